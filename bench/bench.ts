/**
 * crunch's benchmarks. Every figure is the median of several repetitions
 * with its smallest and largest value, and every ratio is between two things
 * measured in the same rounds: each contender (crunch in this process; the
 * single-threaded loop, the machine's two-process ceiling and the peers,
 * Piscina and Python's Pool, in processes of their own) does one timed run a
 * round, in an order that rotates from round to round, so that both sides of
 * a ratio meet the same machine noise. Data sets are generated once (seeded)
 * into .cache/bench/.
 *
 * Usage: `deno task bench [--quick] [--only=1,2,9]` (prints Markdown tables,
 * writes bench/results.json after a full run)
 *
 * @module
 */

import type { Context, Row } from "./context.ts";
import { findPeers } from "./peers.ts";
import { showSpread } from "./stats.ts";
import { seed } from "./cases/seed.ts";
import { shapes } from "./cases/shapes.ts";
import { iterable, memory, startup } from "./cases/misc.ts";
import { sharedTable } from "./cases/shared_table.ts";
import { parsing } from "./cases/parsing.ts";
import { compressedInput } from "./cases/compressed.ts";
import { manyFiles } from "./cases/many_files.ts";
import { waiting } from "./cases/waiting.ts";
import { throughRedis } from "./cases/redis.ts";
import { chaos } from "./cases/chaos.ts";
import { remoteInputs } from "./cases/remote.ts";
import { slowRegion, slowWorker } from "./cases/speculation.ts";
import { parquetInput } from "./cases/parquet.ts";
import { outputDir } from "./cases/output_dir.ts";

const quick = Deno.args.includes("--quick");
const only = Deno.args.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const cache = new URL("../.cache/bench/", import.meta.url).pathname;
await Deno.mkdir(cache, { recursive: true });
const log = (line: string) => console.error(`bench: ${line}`);

const ctx: Context = {
  reps: quick ? 3 : 5,
  quick,
  cache,
  cores: navigator.hardwareConcurrency,
  peers: await findPeers(cache, log),
  rows: [],
  log,
};

const cases: [string, (ctx: Context) => Promise<void>][] = [
  ["1", seed],
  ["2", shapes],
  ["3", iterable],
  ["4", memory],
  ["5", startup],
  ["7", sharedTable],
  ["8", parsing],
  ["9", compressedInput],
  ["10", manyFiles],
  ["11", waiting],
  ["12", throughRedis],
  ["13", chaos],
  ["14", remoteInputs],
  ["15", async (ctx) => {
    await slowWorker(ctx);
    await slowRegion(ctx);
  }],
  ["16", parquetInput],
  ["17", outputDir],
];
const started = performance.now();
for (const [id, run] of cases) {
  if (only === undefined || only.split(",").includes(id)) await run(ctx);
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined
    ? ""
    : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function table(rows: Row[]): string {
  const lines = [
    "| case | variant | records/s | MB/s | ratio | ratio of | value | note |",
    "|---|---|---:|---:|---:|---|---:|---|",
  ];
  for (const r of rows) {
    const value = r.value === undefined ? "" : `${fmt(r.value)} ${r.unit}`;
    lines.push(
      `| ${r.case} | ${r.variant} | ${showSpread(r.rate, 0)} | ${showSpread(r.mbPerSecond, 0)} | ${
        showSpread(r.ratio)
      } | ${r.ratioOf ?? ""} | ${value} | ${r.note ?? ""} |`,
    );
  }
  return lines.join("\n");
}

const cpu =
  (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ??
    "unknown";
const machine = `${ctx.cores} cores (${cpu}), Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`;
const minutes = (performance.now() - started) / 60_000;
console.log(
  `Machine: ${machine}. Each figure: median [min-max] of ${ctx.reps} rounds${
    quick ? " (quick)" : ""
  }; the run took ${minutes.toFixed(1)} minutes.\n`,
);
console.log(table(ctx.rows));
// Only a full run replaces the recorded figures.
if (only === undefined && !quick) {
  await Deno.writeTextFile(
    new URL("./results.json", import.meta.url),
    JSON.stringify(
      { date: new Date().toISOString(), machine, repetitions: ctx.reps, rows: ctx.rows },
      null,
      2,
    ) + "\n",
  );
}
