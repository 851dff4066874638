/**
 * Case 1: the seed's workload (split a review's text into words, sum their
 * weights from a 300,000-word lexicon) on the plain CSV, with the lexicon as
 * a Map built in every worker's init and as a SharedTable built once in
 * prepare; against the single-threaded loop, the machine's two-process
 * ceiling, Piscina (a Map per thread) and, one-shot, Python's Pool as the
 * seed writes it.
 *
 * @module
 */

import { classify, Pool } from "../../mod.ts";
import * as lexicon from "../../examples/lexicon.ts";
import { type Context, exists, here, sizeMb } from "../context.ts";
import { type Contender, inProcess, ratioOf, rounds } from "../runner.ts";
import { SHAPES } from "../shapes.ts";
import {
  crunchContenders,
  nodeSingle,
  piscina,
  python,
  report,
  shapeFile,
  singleLoop,
  twoLoops,
} from "./shapes.ts";

const LEXICON = here("../examples/lexicon.ts");
const SHARED_LEXICON = here("../examples/shared_lexicon.ts");

/** The lexicon as key<TAB>weight lines, for the peers. */
export async function lexiconTsv(ctx: Context): Promise<string> {
  const path = `${ctx.cache}lexicon.tsv`;
  if (!(await exists(path))) {
    const map = lexicon.buildLexicon({});
    await Deno.writeTextFile(path, [...map].map(([w, v]) => `${w}\t${v}`).join("\n") + "\n");
  }
  return path;
}

/** Case 1. */
export async function seed(ctx: Context): Promise<void> {
  const shape = SHAPES.find((s) => s.name === "plain")!;
  const path = await shapeFile(ctx, shape);
  const mb = await sizeMb(path);
  const tsv = await lexiconTsv(ctx);
  using devnull = await Deno.open("/dev/null", { write: true });
  for (const [name, module] of [["Map", LEXICON], ["SharedTable", SHARED_LEXICON]] as const) {
    const contenders: Contender[] = [
      await singleLoop("single loop", path, "csv", module),
      await twoLoops(path, "csv", module),
    ];
    const pools = [await Pool.start(module, { workers: ctx.cores })];
    contenders.push(...crunchContenders(pools[0], path, devnull, `${ctx.cores} workers`));
    if (ctx.cores > 1) {
      pools.push(await Pool.start(module, { workers: 1 }));
      contenders.push(crunchContenders(pools[1], path, devnull, "1 worker")[0]);
    }
    for (
      const peer of [
        piscina(ctx, path, "csv", "lexicon", tsv),
        nodeSingle(ctx, path, "csv", "lexicon", tsv),
      ]
    ) {
      if (peer) contenders.push(await peer);
    }
    const results = await rounds(contenders, ctx.reps, (line) => ctx.log(`seed ${name}: ${line}`));
    report(ctx, "1 seed workload", `${name} lexicon: `, results, mb);
    for (const c of contenders) await c.close?.();
    for (const pool of pools) await pool.close();
  }
  await seedPattern(ctx, path, tsv);
}

/** crunch's one-shot classify() (start-up and init included) against the seed's Python pattern. */
async function seedPattern(ctx: Context, path: string, tsv: string): Promise<void> {
  if (ctx.peers.python === undefined) {
    ctx.rows.push({ case: "6 vs Python", variant: "Python", note: "skipped: python3 not found" });
    return;
  }
  const oneShot = (module: URL, name: string) =>
    inProcess(
      `crunch classify() with the ${name} lexicon, ${ctx.cores} workers, start-up and init included`,
      async () => {
        let n = 0;
        for await (const batch of classify(module, path, { workers: ctx.cores }).batches()) {
          n += batch.length;
        }
        return n;
      },
    );
  const crunchMap = oneShot(LEXICON, "Map");
  const crunchShared = oneShot(SHARED_LEXICON, "SharedTable");
  const tuned = await python(ctx, path, "csv", "lexicon", 1000, tsv)!;
  const results = await rounds(
    [crunchMap, crunchShared, tuned],
    ctx.reps,
    (line) => ctx.log(`python: ${line}`),
  );
  // The default chunksize takes about a minute a run here: one timed run.
  const seedDefault = await python(ctx, path, "csv", "lexicon", 1, tsv)!;
  const once = await rounds(
    [crunchMap, crunchShared, seedDefault],
    1,
    (line) => ctx.log(`python: ${line}`),
  );
  for (
    const [r, label] of [[results, "chunksize 1000"], [
      once,
      "chunksize 1 (the seed's default; one run)",
    ]] as const
  ) {
    const [map, shared, py] = r;
    ctx.rows.push({
      case: "6 vs Python",
      variant: `Python Pool.imap_unordered, ${ctx.cores} processes, ${label}`,
      rate: py.rate,
    });
    ctx.rows.push({
      case: "6 vs Python",
      variant: `  crunch one-shot, Map lexicon`,
      rate: map.rate,
      ratio: ratioOf(map, py),
      ratioOf: "x Python",
    });
    ctx.rows.push({
      case: "6 vs Python",
      variant: `  crunch one-shot, SharedTable lexicon`,
      rate: shared.rate,
      ratio: ratioOf(shared, py),
      ratioOf: "x Python",
    });
  }
  await tuned.close();
  await seedDefault.close();
}
