/**
 * Generates example data the first time (300,000 reviews into .cache/), then
 * scores every review with the lexicon classifier on every core.
 *
 * Usage: `deno task example`, or `deno task example --shared` for the
 * SharedTable version (examples/shared_lexicon.ts).
 *
 * @module
 */

import { classify } from "../mod.ts";
import { generateReviews } from "./generate.ts";

const dir = new URL("../.cache/", import.meta.url);
const data = new URL("reviews.csv", dir);
await Deno.mkdir(dir, { recursive: true });
try {
  await Deno.stat(data);
} catch {
  console.log("generating 300,000 reviews into .cache/reviews.csv ...");
  await generateReviews(data.pathname, 300_000);
}

const started = performance.now();
let count = 0;
let best = { id: "", score: -Infinity };
const shared = Deno.args.includes("--shared");
const module = new URL(shared ? "./shared_lexicon.ts" : "./lexicon.ts", import.meta.url);
for await (const result of classify(module, data, { spec: { entries: 300_000 } })) {
  const r = result as { id: string; score: number };
  count++;
  if (r.score > best.score) best = r;
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `${count} reviews scored in ${seconds.toFixed(2)} s ` +
    `(${Math.round(count / seconds)} records/s on ${navigator.hardwareConcurrency} workers` +
    `${shared ? ", lexicon in a SharedTable" : ""})`,
);
console.log(`highest score: review ${best.id} with ${best.score}`);
