/**
 * Runs the trivial classifier over one file and prints the whole process's
 * peak RSS (VmHWM, which covers the worker threads too) as JSON.
 *
 * Usage: `deno run -A bench/memory_child.ts <file.csv> <workers>`
 *
 * @module
 */

import { classify } from "../mod.ts";

const [path, workers] = Deno.args;
let records = 0;
const started = performance.now();
for await (
  const _ of classify(new URL("./classifiers/trivial.ts", import.meta.url), path, {
    workers: Number(workers),
  })
) {
  records++;
}
const seconds = (performance.now() - started) / 1000;
const status = await Deno.readTextFile("/proc/self/status");
const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
console.log(JSON.stringify({ records, seconds, peakRssMb: peakKb / 1024 }));
