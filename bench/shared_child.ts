/**
 * Start-up time and whole-process peak RSS of a pool whose classifier holds a
 * large lexicon: built per worker as a Map in init ("map"), or built once in
 * prepare as a SharedTable ("shared"). Then classifies the bench file once.
 *
 * Usage: `deno run -A bench/shared_child.ts <map|shared> <workers> <entries> <file.csv>`
 *
 * @module
 */

import { Pool } from "../mod.ts";

const [mode, workers, entries, path] = Deno.args;
const module = new URL(
  mode === "map" ? "../examples/lexicon.ts" : "../examples/shared_lexicon.ts",
  import.meta.url,
);
const started = performance.now();
const pool = await Pool.start(module, {
  workers: Number(workers),
  spec: { entries: Number(entries) },
});
const startup = (performance.now() - started) / 1000;
const runStarted = performance.now();
let records = 0;
for await (const _ of pool.classify(path)) records++;
const seconds = (performance.now() - runStarted) / 1000;
await pool.close();
const status = await Deno.readTextFile("/proc/self/status");
const peakRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
console.log(
  JSON.stringify({ mode, workers: Number(workers), startup, peakRssMb, records, seconds }),
);
