/**
 * A plug-in whose imports its own folder's deno.json maps (a local module by
 * a bare name, the crunch library itself for its SharedTable) and that
 * imports an npm: specifier, with prepare() sharing a SharedTable: the
 * fixture of the plug-in dependency tests and of the contract.
 */

const MOD = new URL("../mod.ts", import.meta.url).pathname;

/**
 * A plug-in in a new folder of its own (under `parent`, or the system's
 * temporary folder) whose deno.json maps its imports, with a data file.
 */
export async function pluginFolder(
  parent?: string,
): Promise<{ dir: string; plugin: string; data: string }> {
  if (parent !== undefined) await Deno.mkdir(parent, { recursive: true });
  const dir = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "crunch-plugin-", dir: parent }),
  );
  await Deno.mkdir(`${dir}/vendor`);
  await Deno.writeTextFile(
    `${dir}/deno.json`,
    JSON.stringify({ imports: { "word-score": "./vendor/word_score.ts", "@crunch/crunch": MOD } }),
  );
  await Deno.writeTextFile(
    `${dir}/vendor/word_score.ts`,
    "export default function score(text: string): number {\n  return text.length;\n}\n",
  );
  await Deno.writeTextFile(
    `${dir}/plugin.ts`,
    `import score from "word-score";
import { SharedTable } from "@crunch/crunch";
import { csvParseRows } from "npm:d3-dsv@3.0.2";

let table: SharedTable;
export function prepare(): SharedArrayBuffer {
  return SharedTable.from([["hello", 7]]).buffer;
}
export function init(_spec: unknown, context: { shared: SharedArrayBuffer }): void {
  table = SharedTable.open(context.shared);
}
export function classify(row: { id: string; text: string }) {
  return { id: row.id, score: score(row.text), known: table.get(row.text) ?? null, cells: csvParseRows("a,b")[0].length };
}
`,
  );
  const rows = [
    "id,text",
    ...Array.from({ length: 40 }, (_, i) => `${i},${i % 2 ? "hello" : "hi"}`),
  ];
  await Deno.writeTextFile(`${dir}/data.csv`, rows.join("\n") + "\n");
  return { dir, plugin: `${dir}/plugin.ts`, data: `${dir}/data.csv` };
}

/** What every mode must give for the plug-in's data. */
export const expected = Array.from({ length: 40 }, (_, i) => ({
  id: String(i),
  score: i % 2 ? 5 : 2,
  known: i % 2 ? 7 : null,
  cells: 2,
}));
