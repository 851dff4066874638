/**
 * What a plug-in someone else wrote cannot get out of: everything of a
 * sandboxed plug-in (its top-level code and prepare() included) runs under
 * the sandbox, which reads only the plug-in's own files whatever links lie
 * beside it; and a `crunch worker` runs only modules under the prefixes it
 * was allowed, compared after `..` and links are resolved.
 */
import assert from "node:assert/strict";
import { classify, type PrepareError, type RecordError } from "../mod.ts";
import { moduleNotAllowed } from "../lib/backends/redis/admission.ts";
import { collect, runCrunch, tempFile } from "./helpers.ts";

const SANDBOX = { read: false, write: false, net: false, run: false, env: false, sys: false };

/** A folder holding a plug-in, a secret beside it, and a link to a folder elsewhere. */
async function plugFolder(source: string) {
  const home = await Deno.makeTempDir({ prefix: "crunch-home-" });
  const elsewhere = await Deno.makeTempDir({ prefix: "crunch-elsewhere-" });
  await Deno.writeTextFile(`${elsewhere}/passwd`, "root:x:0:0\n");
  await Deno.writeTextFile(`${home}/secret.txt`, "the user's own file\n");
  await Deno.mkdir(`${home}/plug`);
  await Deno.symlink(elsewhere, `${home}/plug/etc`);
  await Deno.writeTextFile(
    `${home}/plug/helper.ts`,
    "export const twice = (n: number) => 2 * n;\n",
  );
  await Deno.writeTextFile(`${home}/plug/mod.ts`, source);
  return { home, elsewhere, module: `${home}/plug/mod.ts` };
}

Deno.test("a sandboxed plug-in's prepare() and top-level code run under the sandbox", async () => {
  const marker = `${await Deno.makeTempDir()}/top-level-wrote-this`;
  const { module } = await plugFolder(`
import { twice } from "./helper.ts";
try { Deno.writeTextFileSync(${JSON.stringify(marker)}, "x"); } catch { /* the sandbox says no */ }
export function prepare() { return Deno.readTextFileSync("/etc/hostname"); }
export function classify(row: number) { return twice(row); }
`);
  const error = await collect(classify(module, [1], { workers: 1, permissions: SANDBOX })).then(
    () => undefined,
    (e: PrepareError) => e,
  );
  assert.ok(error);
  assert.equal(error.name, "PrepareError");
  assert.match(error.message, /prepare\(\) of .*mod\.ts failed: NotCapable: Requires read access/);
  await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
});

Deno.test("a sandboxed plug-in reads its own files, not a link beside it nor the rest of its folder", async () => {
  const { home, module } = await plugFolder(`
import { twice } from "./helper.ts";
export function classify(row: { path: string }) {
  return row.path === "none" ? twice(1) : Deno.readTextFileSync(new URL(row.path, import.meta.url));
}
`);
  const errors: RecordError[] = [];
  const results = await collect(classify(module, [
    { path: "none" },
    { path: "./helper.ts" },
    { path: "./etc/passwd" },
    { path: "../secret.txt" },
  ], {
    workers: 1,
    ordered: true,
    permissions: SANDBOX,
    onError: (e) => errors.push(e as RecordError),
  }));
  assert.equal(results.length, 2); // its own helper can be read: it imports it
  assert.deepEqual(errors.map((e) => [e.index, e.cause.name]), [[2, "NotCapable"], [
    3,
    "NotCapable",
  ]]);
  // The command's --sandbox, with worker processes: the same.
  const data = await tempFile(
    "rows.ndjson",
    [{ path: "./etc/passwd" }, { path: "none" }].map((r) => JSON.stringify(r)).join("\n"),
  );
  const r = await runCrunch([
    "--sandbox",
    "--isolation",
    "process",
    "--on-error",
    "skip",
    module,
    data,
  ], { cwd: home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "2\n");
  assert.match(r.stderr, /2 records in, 1 result out, 1 error/);
});

Deno.test("crunch worker --allow-module: .. segments, encoded dots and links do not lead out", async () => {
  const root = await Deno.makeTempDir({ prefix: "crunch-allow-" });
  await Deno.mkdir(`${root}/allowed`);
  await Deno.mkdir(`${root}/elsewhere`);
  await Deno.writeTextFile(`${root}/elsewhere/evil.ts`, "export const classify = () => 1;\n");
  await Deno.writeTextFile(`${root}/allowed/good.ts`, "export const classify = () => 1;\n");
  await Deno.symlink(`${root}/elsewhere/evil.ts`, `${root}/allowed/link.ts`);
  const allow = [`file://${root}/allowed/`];
  assert.equal(moduleNotAllowed(`file://${root}/allowed/good.ts`, allow), undefined);
  for (
    const sent of [
      `file://${root}/allowed/../elsewhere/evil.ts`,
      `file://${root}/allowed/%2e%2e/elsewhere/evil.ts`,
      `file://${root}/allowed/link.ts`,
    ]
  ) {
    const refusal = moduleNotAllowed(sent, allow);
    assert.ok(refusal !== undefined, sent);
    assert.match(refusal, /is refused|not under an allowed prefix/);
  }
});
