/**
 * Start-up time and whole-process peak RSS of a pool whose classifier holds a
 * large lexicon: built per worker as a Map in init ("map"), or built once in
 * prepare as a SharedTable ("shared"). Then classifies the bench file once.
 *
 * With `process`, the workers are processes of their own (each gets a copy
 * of the shared table); `rssAfterStartMb` sums the resident memory of this
 * process and its worker processes once the pool has started.
 *
 * Usage: `deno run -A bench/shared_child.ts <map|shared> <workers> <entries> <file.csv> [thread|process]`
 *
 * @module
 */

import { Pool } from "../mod.ts";

const [mode, workers, entries, path, isolation = "thread"] = Deno.args;

/** Resident MB of this process and its children (the worker processes), from /proc. */
function residentMb(): number {
  let kb = 0;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = Deno.readTextFileSync(`/proc/${entry.name}/status`);
      const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1]);
      if (Number(entry.name) !== Deno.pid && ppid !== Deno.pid) continue;
      kb += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return kb / 1024;
}
const module = new URL(
  mode === "map" ? "../examples/lexicon.ts" : "../examples/shared_lexicon.ts",
  import.meta.url,
);
const started = performance.now();
const pool = await Pool.start(module, {
  workers: Number(workers),
  spec: { entries: Number(entries) },
  isolation: isolation as "thread" | "process",
});
const startup = (performance.now() - started) / 1000;
const rssAfterStartMb = residentMb();
const runStarted = performance.now();
let records = 0;
for await (const _ of pool.classify(path)) records++;
const seconds = (performance.now() - runStarted) / 1000;
await pool.close();
const status = await Deno.readTextFile("/proc/self/status");
const peakRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
console.log(
  JSON.stringify({
    mode,
    isolation,
    workers: Number(workers),
    startup,
    rssAfterStartMb,
    peakRssMb,
    records,
    seconds,
  }),
);
