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
