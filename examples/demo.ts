/**
 * The crunch command on example data: generates 300,000 reviews into .cache/
 * the first time, then scores them with the lexicon example through the
 * command, with its progress bar, and says where the results went.
 *
 * Usage: `deno task demo`
 *
 * @module
 */

import { generateReviews } from "./generate.ts";

const root = new URL("../", import.meta.url);
const data = new URL(".cache/reviews.csv", root).pathname;
const results = new URL(".cache/scores.ndjson", root).pathname;
await Deno.mkdir(new URL(".cache/", root), { recursive: true });
try {
  await Deno.stat(data);
} catch {
  console.log("generating 300,000 reviews into .cache/reviews.csv ...");
  await generateReviews(data, 300_000);
}

const args = [
  "run",
  "-A",
  new URL("lib/cli/main.ts", root).pathname,
  "--progress",
  "-o",
  results,
  new URL("examples/lexicon.ts", root).pathname,
  data,
];
console.log(`$ crunch --progress -o .cache/scores.ndjson examples/lexicon.ts .cache/reviews.csv`);
const { code } = await new Deno.Command(Deno.execPath(), {
  args,
  stdout: "inherit",
  stderr: "inherit",
})
  .output();
if (code === 0) {
  const first = (await Deno.readTextFile(results)).split("\n", 1)[0];
  console.log(`results: .cache/scores.ndjson (first line: ${first})`);
}
Deno.exit(code);
