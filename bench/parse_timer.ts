/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * A worker of `parse_matrix.ts`: times one parser on one shape's chunks, in
 * an isolate of its own, and posts the MB/s of each timed round (after one
 * warm-up round).
 *
 * @module
 */

import { DECODE_ONLY, parsersFor } from "./parse_matrix.ts";
import { SHAPES } from "./shapes.ts";

interface Job {
  shape: string;
  parser: string;
  chunks: Uint8Array[];
  columns: string[];
  header: string;
  reps: number;
}

self.onmessage = (event: MessageEvent<Job>) => {
  const { shape: name, parser, chunks, columns, header, reps } = event.data;
  const shape = SHAPES.find((s) => s.name === name)!;
  const decoder = new TextDecoder();
  let sink = 0;
  const parse = parser === DECODE_ONLY
    ? (b: Uint8Array) => [decoder.decode(b)]
    : parsersFor(shape, columns, header)[parser];
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  const rates: number[] = [];
  for (let r = 0; r <= reps; r++) {
    const started = performance.now();
    for (const chunk of chunks) sink += parse(chunk).length;
    const seconds = (performance.now() - started) / 1000;
    if (r > 0) rates.push(bytes / 1e6 / seconds);
  }
  if (sink < 0) console.log(sink);
  self.postMessage(rates);
};
