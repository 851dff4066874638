/**
 * The plain single-threaded loop, in a process of its own so that nothing
 * else on the heap slows it: the same reading, parsing and classify as a
 * crunch worker, on the main thread (with `prepare` first, when the module has
 * one). After one warm-up run it times one more run for each line it reads on
 * stdin and prints `{ records, seconds }` as a JSON line, so the bench can
 * interleave its runs with crunch's and both meet the same machine noise.
 *
 * Usage: `deno run -A bench/single_loop.ts <file> <csv|ndjson> <classifier module>`
 *
 * @module
 */

import { FileSource } from "../lib/byte_source.ts";
import { ChunkReader } from "../lib/chunk_reader.ts";
import type { Format } from "../lib/protocol.ts";
import { DEFAULT_CHUNK_BYTES } from "../lib/options.ts";
import { parseDelimited, rowBuilder } from "../workers/csv.ts";
import { parseNdjson } from "../workers/ndjson.ts";

const [path, format, module] = Deno.args;
const plugin = await import(new URL(module, `file://${Deno.cwd()}/`).href);
const shared = await plugin.prepare?.({});
await plugin.init?.({}, { workerIndex: 0, workers: 1, shared });

async function loop(): Promise<number> {
  const reader = new ChunkReader(
    await FileSource.open(path),
    format as Format,
    DEFAULT_CHUNK_BYTES,
    64 << 20,
  );
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
console.log(JSON.stringify({ ready: true }));
const encoder = new TextEncoder();
for await (const _ of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  const started = performance.now();
  const records = await loop();
  const seconds = (performance.now() - started) / 1000;
  await Deno.stdout.write(encoder.encode(JSON.stringify({ records, seconds }) + "\n"));
}
