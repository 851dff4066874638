/**
 * Case 12: through Redis. A redis-server on this machine and two `crunch
 * worker` processes of one worker each, against a local pool of two workers
 * in the same rounds: the trivial classifier on the plain and quoted shapes
 * (the workers read byte ranges; then the records sent through Redis), and
 * the seed workload (server and workers from the tests' harness). Then Redis's peak memory over a 1 GB input whose
 * records all go through Redis.
 *
 * @module
 */

import { Pool } from "../../mod.ts";
import { RedisClient, text } from "../../lib/backends/redis/client.ts";
import { type Context, exists, here, sizeMb } from "../context.ts";
import {
  HAVE_REDIS,
  RedisServer,
  startWorkers,
  type WorkerProcess,
} from "../../tests/redis_harness.ts";
import { inProcess, ratioOf, rounds } from "../runner.ts";
import { SHAPES } from "../shapes.ts";
import { shapeFile, TRIVIAL } from "./shapes.ts";
import { scale } from "../stats.ts";

const LEXICON = here("../examples/lexicon.ts");

/** Case 12. */
export async function throughRedis(ctx: Context): Promise<void> {
  if (!HAVE_REDIS) {
    ctx.rows.push({ case: "12 through Redis", variant: "", note: "skipped: no redis-server" });
    return;
  }
  const server = await RedisServer.start();
  const url = server.url();
  let workers: WorkerProcess[] = [];
  try {
    workers = await startWorkers(server, ctx.cores, ["-w", "1"]);
    for (const [name, module] of [["trivial", TRIVIAL], ["seed (Map lexicon)", LEXICON]] as const) {
      const shapes = module === TRIVIAL ? ["plain", "quoted-5pct", "multibyte"] : ["plain"];
      for (const shapeName of shapes) {
        const shape = SHAPES.find((s) => s.name === shapeName)!;
        const path = await shapeFile(ctx, shape);
        const mb = await sizeMb(path);
        const local = await Pool.start(module, { workers: ctx.cores });
        const remote = await Pool.start(module, { redis: url });
        const count = async (pool: Pool, reader?: "main") => {
          let n = 0;
          for await (const batch of pool.classify(path, { reader }).batches()) n += batch.length;
          return n;
        };
        const [mine, ranges, chunks] = await rounds(
          [
            inProcess(`local pool, ${ctx.cores} workers`, () => count(local)),
            inProcess(
              `${ctx.cores} crunch workers through Redis, byte ranges`,
              () => count(remote),
            ),
            inProcess(
              `${ctx.cores} crunch workers, records through Redis`,
              () => count(remote, "main"),
            ),
          ],
          ctx.reps,
          (line) => ctx.log(`redis ${name} ${shapeName}: ${line}`),
        );
        await local.close();
        await remote.close();
        const where = `${name}, ${shapeName}: `;
        const perMb = (r: typeof mine) => scale(r.rate, mb / r.records);
        ctx.rows.push({
          case: "12 through Redis",
          variant: where + mine.label,
          rate: mine.rate,
          mbPerSecond: perMb(mine),
        });
        for (const r of [ranges, chunks]) {
          ctx.rows.push({
            case: "12 through Redis",
            variant: where + r.label,
            rate: r.rate,
            mbPerSecond: perMb(r),
            ratio: ratioOf(r, mine),
            ratioOf: "of the local pool's speed",
          });
        }
      }
    }
    await peakMemory(ctx, url);
  } finally {
    await Promise.all(workers.map((w) => w.stop("SIGKILL")));
    await server.stop();
  }
}

/** Redis's peak memory over a 1 GB input sent through it (the high-water mark bounds it). */
async function peakMemory(ctx: Context, url: string): Promise<void> {
  const path = `${ctx.cache}plain-1gb.csv`;
  if (ctx.quick || !(await exists(path))) return;
  const client = await RedisClient.connect(url);
  const peak = async () => {
    const info = text(await client.command("INFO", "memory"))!;
    return Number(info.match(/used_memory_peak:(\d+)/)![1]);
  };
  await client.command("MEMORY", "PURGE").catch(() => {});
  const before = await peak();
  const pool = await Pool.start(TRIVIAL, { redis: url });
  const started = performance.now();
  let n = 0;
  for await (const batch of pool.classify(path, { reader: "main" }).batches()) n += batch.length;
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  const after = await peak();
  client.close();
  ctx.log(`redis 1 GB: ${n} records in ${seconds.toFixed(1)} s, peak ${after} bytes`);
  ctx.rows.push({
    case: "12 through Redis",
    variant: `1 GB plain, records through Redis (${(1024 / seconds).toFixed(0)} MB/s, one run)`,
    value: Math.round(Math.max(after, before) / 2 ** 20),
    unit: "MB Redis peak",
    note: "used_memory_peak of INFO memory; default high-water mark of 64 tasks",
  });
}
