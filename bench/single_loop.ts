/**
 * The plain single-threaded loop, in a process of its own so that nothing
 * else on the heap slows it: the same reading, parsing and classify as a
 * crunch worker, on the main thread (with `prepare` first, when the module has
 * one). After one warm-up run it prints a ready line, then times one more run
 * for each line it reads on stdin and prints `{ records, seconds }` as a JSON
 * line (the protocol of `runner.ts`'s ChildRunner).
 *
 * Usage: `deno run -A bench/single_loop.ts <file> <csv|tsv|ndjson> <classifier module>`
 *
 * @module
 */

import type { Format } from "../lib/formats/format.ts";
import { eachChunkRows } from "./chunk_rows.ts";

const [path, format, module] = Deno.args;
const plugin = await import(new URL(module, `file://${Deno.cwd()}/`).href);
const shared = await plugin.prepare?.({});
await plugin.init?.({}, { workerIndex: 0, workers: 1, shared });

async function loop(): Promise<number> {
  let n = 0;
  await eachChunkRows(path, format as Format, (rows) => {
    for (const row of rows) if (plugin.classify(row) !== undefined) n++;
  });
  return n;
}

await loop();
console.log(JSON.stringify({ ready: true }));
const encoder = new TextEncoder();
for await (const _ of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  const started = performance.now();
  const records = await loop();
  const seconds = (performance.now() - started) / 1000;
  await Deno.stdout.write(encoder.encode(JSON.stringify({ records, seconds }) + "\n"));
}
