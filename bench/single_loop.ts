/**
 * The plain single-threaded loop, in a process of its own so that nothing
 * else on the heap slows it: the same reading, parsing and classify as a
 * crunch worker, on the main thread. Prints the best of `repeats` runs (after
 * one warm-up run) as JSON.
 *
 * Usage: `deno run -A bench/single_loop.ts <file> <csv|ndjson> <classifier module> <repeats>`
 *
 * @module
 */

import { FileSource } from "../lib/byte_source.ts";
import { ChunkReader } from "../lib/chunk_reader.ts";
import type { Format } from "../lib/protocol.ts";
import { parseDelimited, rowBuilder } from "../workers/csv.ts";
import { parseNdjson } from "../workers/ndjson.ts";

const [path, format, module, repeats] = Deno.args;
const plugin = await import(new URL(module, `file://${Deno.cwd()}/`).href);
await plugin.init?.({});

async function loop(): Promise<number> {
  const reader = new ChunkReader(await FileSource.open(path), format as Format, 1 << 20, 64 << 20);
  let columns: string[] = [];
  if (format !== "ndjson") {
    columns = new TextDecoder().decode((await reader.header())!.bytes).trim().split(",");
  }
  const build = rowBuilder(columns);
  const decoder = new TextDecoder();
  let n = 0;
  for (let c = await reader.next(); c; c = await reader.next()) {
    const text = decoder.decode(new Uint8Array(c.buffer, c.start, c.end - c.start));
    const parsed = format === "ndjson"
      ? parseNdjson(text)
      : parseDelimited(text, ",", columns, build);
    for (const row of parsed.rows) if (plugin.classify(row) !== undefined) n++;
  }
  reader.close();
  return n;
}

await loop();
let best = Infinity;
let records = 0;
for (let i = 0; i < Number(repeats); i++) {
  const started = performance.now();
  records = await loop();
  best = Math.min(best, (performance.now() - started) / 1000);
}
console.log(JSON.stringify({ records, seconds: best }));
