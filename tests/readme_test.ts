/**
 * README shows what the command prints: its `--help` options and `crunch
 * worker --help` are the command's own output, character for character.
 */
import assert from "node:assert/strict";
import { runCrunch } from "./helpers.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));

/** The text of the first ```text block after `marker`. */
function blockAfter(marker: string): string {
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README has no ${JSON.stringify(marker)}`);
  const start = readme.indexOf("```text\n", at) + "```text\n".length;
  return readme.slice(start, readme.indexOf("```", start));
}

/** `text` without the indentation all its lines share (deno fmt takes it off a code block). */
function dedent(text: string): string {
  const lines = text.split("\n");
  const indent = Math.min(
    ...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length),
  );
  return lines.map((l) => l.slice(indent)).join("\n");
}

Deno.test("README's option list is the command's --help", async () => {
  const { code, stdout } = await runCrunch(["--help"]);
  assert.equal(code, 0);
  // The options of the help, from the first to the last.
  const options = stdout.slice(
    stdout.indexOf("  -s, --spec"),
    stdout.indexOf("\n", stdout.indexOf("--version")) + 1,
  );
  assert.equal(blockAfter("`crunch --help` lists every option:"), dedent(options));
});

Deno.test("README's crunch worker --help is the command's", async () => {
  const { code, stdout } = await runCrunch(["worker", "--help"]);
  assert.equal(code, 0);
  assert.equal(blockAfter("`crunch worker --help`:"), stdout);
});

/** The code blocks of the README section that starts at `heading`, with their language. */
function sectionBlocks(heading: string): { lang: string; text: string }[] {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no section ${heading}`);
  const end = readme.indexOf("\n## ", start + heading.length + 2);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map(([, lang, text]) => ({
    lang,
    text,
  }));
}

Deno.test("README's In 15 lines runs as written, from a folder beside a checkout named crunch/", async () => {
  const blocks = sectionBlocks("## In 15 lines");
  const [classifier, config, main] = blocks.filter((b) => b.lang !== "text");
  const [data, printed] = blocks.filter((b) => b.lang === "text");
  assert.match(classifier.text, /^\/\/ classifier\.ts:/);
  assert.match(main.text, /^\/\/ main\.ts: deno run -A main\.ts/);
  const parent = await Deno.makeTempDir();
  await Deno.symlink(new URL("..", import.meta.url).pathname, `${parent}/crunch`);
  const folder = `${parent}/mine`;
  await Deno.mkdir(folder);
  await Deno.writeTextFile(`${folder}/classifier.ts`, classifier.text);
  await Deno.writeTextFile(`${folder}/deno.json`, config.text);
  await Deno.writeTextFile(`${folder}/main.ts`, main.text);
  await Deno.writeTextFile(`${folder}/reviews.csv`, data.text);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    cwd: folder,
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(new TextDecoder().decode(out.stdout), printed.text);
});

Deno.test("every module a README command runs exists in the checkout, or README shows it written", async () => {
  const root = new URL("..", import.meta.url);
  // Files README has the reader write: a code block opening with `// name.ts`.
  const written = new Set([...readme.matchAll(/```ts\n\/\/ ([\w./-]+\.ts)\b/g)].map(([, f]) => f));
  const missing: string[] = [];
  for (const [, line] of readme.matchAll(/^\s*\$ ((?:crunch|deno) .*)$/gm)) {
    for (const word of line.split(/\s+/)) {
      if (!/^[\w./-]+\.ts$/.test(word) || written.has(word)) continue;
      try {
        await Deno.stat(new URL(word, root));
      } catch {
        missing.push(`${word} (in: ${line})`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
