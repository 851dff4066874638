/**
 * A change to the data path, measured before and after in the same rounds:
 * crunch's Pool from another checkout (`--before=DIR`, for example a `git
 * worktree` of the commit before the change) against this one, in one
 * process, with Piscina beside them, on the trivial classifier and the seed
 * workload over the plain, 5% quoted, multibyte and NDJSON shapes. Each
 * contender runs once a round in a rotating order; ratios are taken round by
 * round.
 *
 * Usage: `deno run -A bench/ab.ts --before=/path/to/old/checkout [--quick] [--reps=5]`
 *
 * @module
 */

import { Pool } from "../mod.ts";
import type { Context } from "./context.ts";
import { here } from "./context.ts";
import { findPeers } from "./peers.ts";
import { type Contender, inProcess, ratioOf, rounds } from "./runner.ts";
import { SHAPES } from "./shapes.ts";
import { piscina, shapeFile, TRIVIAL } from "./cases/shapes.ts";
import { lexiconTsv } from "./cases/seed.ts";
import { showSpread } from "./stats.ts";

const before = Deno.args.find((a) => a.startsWith("--before="))?.slice("--before=".length);
if (before === undefined) throw new Error("usage: bench/ab.ts --before=DIR [--quick] [--reps=N]");
const quick = Deno.args.includes("--quick");
const reps = Number(Deno.args.find((a) => a.startsWith("--reps="))?.slice(7) ?? (quick ? 3 : 5));
const cache = new URL("../.cache/bench/", import.meta.url).pathname;
await Deno.mkdir(cache, { recursive: true });
const log = (line: string) => console.error(`ab: ${line}`);
const ctx: Context = {
  reps,
  quick,
  cache,
  cores: navigator.hardwareConcurrency,
  peers: await findPeers(cache, log),
  rows: [],
  log,
};

type PoolClass = typeof Pool;
const Before: PoolClass = (await import(new URL(`file://${before}/mod.ts`).href)).Pool;
const LEXICON = here("../examples/lexicon.ts");
const tsv = await lexiconTsv(ctx);

/** One side's pool, read through batches() (the library's fastest path). */
function side(label: string, pool: Pool, path: string): Contender {
  return inProcess(label, async () => {
    let n = 0;
    for await (const batch of pool.classify(path).batches()) n += batch.length;
    return n;
  });
}

const lines: string[] = [
  `| workload | shape | after / before | after / Piscina | before / Piscina |`,
  `|---|---|---:|---:|---:|`,
];
for (
  const [workload, module, mode] of [["trivial", TRIVIAL, "trivial"], [
    "seed (Map lexicon)",
    LEXICON,
    "lexicon",
  ]] as const
) {
  const shapes = mode === "trivial"
    ? ["plain", "quoted-5pct", "multibyte", "ndjson-nested"]
    : ["plain"];
  for (const name of shapes) {
    const shape = SHAPES.find((s) => s.name === name)!;
    const path = await shapeFile(ctx, shape);
    const old = await Before.start(module, { workers: ctx.cores });
    const now = await Pool.start(module, { workers: ctx.cores });
    const contenders = [side("before", old as unknown as Pool, path), side("after", now, path)];
    const peer = piscina(ctx, path, shape.format, mode, mode === "lexicon" ? tsv : "-");
    if (peer) contenders.push(await peer);
    const results = await rounds(contenders, reps, (line) => log(`${workload} ${name}: ${line}`));
    const [b, a, p] = results;
    lines.push(
      `| ${workload} | ${name} | ${showSpread(ratioOf(a, b))} | ${
        p ? showSpread(ratioOf(a, p)) : "-"
      } | ${p ? showSpread(ratioOf(b, p)) : "-"} |`,
    );
    for (const c of contenders) await c.close?.();
    await old.close();
    await now.close();
  }
}
console.log(
  `${ctx.cores} cores, Deno ${Deno.version.deno}; median [min-max] of ${reps} rounds, ratios ` +
    "of records/s taken round by round\n",
);
console.log(lines.join("\n"));
