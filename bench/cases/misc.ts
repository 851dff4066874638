/**
 * Cases 3 to 5: iterable input (batching against one message per record),
 * memory (peak RSS for 100 MB and 1 GB of input), and start-up.
 *
 * @module
 */

import { Pool } from "../../mod.ts";
import { eachChunkRows } from "../chunk_rows.ts";
import { type Context, exists, here, sizeMb } from "../context.ts";
import { inProcess, ratioOf, rounds } from "../runner.ts";
import { SHAPES, writeShape } from "../shapes.ts";
import { shapeFile, TRIVIAL } from "./shapes.ts";

const plain = SHAPES.find((s) => s.name === "plain")!;

/** Case 3: rows from an iterable, in batches of 1000 against one per message. */
export async function iterable(ctx: Context): Promise<void> {
  const path = await shapeFile(ctx, plain);
  const all: unknown[] = [];
  await eachChunkRows(path, "csv", (batch) => {
    for (const row of batch) if (all.length < 1_000_000) all.push(row);
  });
  const perRecord = all.slice(0, 100_000);
  const pool = await Pool.start(TRIVIAL, { workers: ctx.cores });
  const drain = async (rows: unknown[], batchSize?: number) => {
    let n = 0;
    for await (const batch of pool.classify(rows, { batchSize }).batches()) n += batch.length;
    return n;
  };
  const [batched, single] = await rounds(
    [
      inProcess(`crunch ${ctx.cores} workers, batches of 1000 (1M rows)`, () => drain(all)),
      inProcess(
        `crunch ${ctx.cores} workers, one message per record (100k rows)`,
        () => drain(perRecord, 1),
      ),
    ],
    ctx.reps,
    ctx.log,
  );
  await pool.close();
  ctx.rows.push({ case: "3 iterable rows", variant: batched.label, rate: batched.rate });
  ctx.rows.push({
    case: "3 iterable rows",
    variant: single.label,
    rate: single.rate,
    ratio: ratioOf(batched, single),
    ratioOf: "batched is this many times faster",
  });
}

/** Case 4: the whole process's peak RSS for a 100 MB and a 1 GB file. */
export async function memory(ctx: Context): Promise<void> {
  const small = await shapeFile(ctx, plain);
  let large = small;
  if (!ctx.quick) {
    large = `${ctx.cache}plain-1gb.csv`;
    if (!(await exists(large))) {
      ctx.log(`generating ${large}`);
      await writeShape(plain, large, 1000e6, 13);
    }
  }
  const peaks: number[] = [];
  for (const path of [small, large]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", here("./memory_child.ts").pathname, path, String(ctx.cores)],
      stderr: "inherit",
    }).output();
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    ctx.log(`memory ${path}: ${JSON.stringify(result)}`);
    peaks.push(result.peakRssMb);
    ctx.rows.push({
      case: "4 memory",
      variant: `peak RSS, ${(await sizeMb(path)).toFixed(0)} MB input, ${ctx.cores} workers`,
      value: result.peakRssMb,
      unit: "MB",
    });
  }
  const ratio = peaks[1] / peaks[0];
  ctx.rows.push({
    case: "4 memory",
    variant: "peak for the large input / peak for the small",
    ratio: { median: ratio, min: ratio, max: ratio, n: 1 },
    ratioOf: "ratio",
  });
}

/** Case 5: starting and closing a pool whose init does nothing. */
export async function startup(ctx: Context): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < ctx.reps; i++) {
    const started = performance.now();
    const pool = await Pool.start(here("./classifiers/empty.ts"), { workers: ctx.cores });
    await pool.close();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  ctx.rows.push({
    case: "5 start-up",
    variant:
      `Pool.start with ${ctx.cores} workers, empty init (includes close); median of ${ctx.reps}`,
    value: times[times.length >> 1],
    unit: "ms",
  });
}
