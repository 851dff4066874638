/**
 * Case 15: a slow worker, and a slow region. Three workers, one of them 10
 * times slower (the classifier spins 10 times longer in worker 0), with
 * speculative tails and without, against the healthy workers' ideal (the
 * same records on the two healthy workers alone), in the same rounds. Then
 * a region of costly records (2,000 records of 60,000 spin 2 ms each, on
 * every worker: most of them fall in one task), with speculation (which
 * splits it among the idle workers) and without, against the same work
 * spread evenly over every record.
 *
 * @module
 */

import { classify } from "../../mod.ts";
import { type Context, here } from "../context.ts";
import { inProcess, ratioOf, rounds } from "../runner.ts";

const SLOW_WORKER = here("../tests/fixtures/slow_worker.ts");
const SLOW_REGION = here("../tests/fixtures/slow_region.ts");
const CASE = "15 a slow worker";
const REGION_CASE = "15 a slow region";

/** Case 15. */
export async function slowWorker(ctx: Context): Promise<void> {
  const path = `${ctx.cache}slow-worker.csv`;
  let text = "id,text\n";
  for (let i = 0; i < 6_000; i++) text += `${i},record ${i}\n`;
  await Deno.writeTextFile(path, text);
  const run = (workers: number, factor: number, speculate: boolean) => async () => {
    let n = 0;
    const results = classify(SLOW_WORKER, path, {
      spec: { us: 400, factor, worker: 0 },
      workers,
      chunkBytes: 4096,
      speculate,
    });
    for await (const batch of results.batches()) n += batch.length;
    return n;
  };
  const [ideal, raced, plain] = await rounds(
    [
      inProcess("2 healthy workers alone (the ideal)", run(2, 1, false)),
      inProcess("3 workers, one 10x slower, speculation on", run(3, 10, true)),
      inProcess("3 workers, one 10x slower, --no-speculate", run(3, 10, false)),
    ],
    ctx.reps,
    (line) => ctx.log(`slow worker: ${line}`),
  );
  ctx.rows.push({ case: CASE, variant: ideal.label, rate: ideal.rate });
  for (const r of [raced, plain]) {
    ctx.rows.push({
      case: CASE,
      variant: r.label,
      rate: r.rate,
      ratio: ratioOf(r, ideal),
      ratioOf: "of the healthy workers' speed",
    });
  }
}

/** Case 15, the slow region: 2,000 costly records among 60,000, in a few tasks of 3 workers. */
export async function slowRegion(ctx: Context): Promise<void> {
  const path = `${ctx.cache}slow-region.csv`;
  const records = 60_000;
  let text = "id,text\n";
  for (let i = 0; i < records; i++) text += `${i},record ${i}\n`;
  await Deno.writeTextFile(path, text);
  const [from, to, us] = [30_000, 32_000, 2_000];
  const run = (spec: { us: number; from: number; to: number }, speculate: boolean) => async () => {
    let n = 0;
    const results = classify(SLOW_REGION, path, { spec, workers: 3, speculate });
    for await (const batch of results.batches()) n += batch.length;
    return n;
  };
  const even = { us: (us * (to - from)) / records, from: 0, to: records };
  const [ideal, split, plain] = await rounds(
    [
      inProcess("the same work spread evenly (the ideal)", run(even, false)),
      inProcess("a slow region, speculation on (split)", run({ us, from, to }, true)),
      inProcess("a slow region, --no-speculate", run({ us, from, to }, false)),
    ],
    ctx.reps,
    (line) => ctx.log(`slow region: ${line}`),
  );
  ctx.rows.push({ case: REGION_CASE, variant: ideal.label, rate: ideal.rate });
  for (const r of [split, plain]) {
    ctx.rows.push({
      case: REGION_CASE,
      variant: r.label,
      rate: r.rate,
      ratio: ratioOf(r, ideal),
      ratioOf: "of the even spread's speed",
    });
  }
}
