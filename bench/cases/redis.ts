/**
 * Case 12: through Redis. A redis-server on this machine and two `crunch
 * worker` processes of one worker each, against a local pool of two workers
 * in the same rounds: the trivial classifier on the plain and quoted shapes
 * (the workers read byte ranges; then the records sent through Redis), and
 * the seed workload. Then Redis's peak memory over a 1 GB input whose
 * records all go through Redis.
 *
 * @module
 */

import { Pool } from "../../mod.ts";
import { RedisClient, text } from "../../lib/redis/client.ts";
import { type Context, exists, here, sizeMb } from "../context.ts";
import { inProcess, ratioOf, rounds } from "../runner.ts";
import { SHAPES } from "../shapes.ts";
import { shapeFile, TRIVIAL } from "./shapes.ts";
import { scale } from "../stats.ts";

const LEXICON = here("../examples/lexicon.ts");
const CLI = here("../lib/cli.ts").pathname;
const PORT = 16_390;

function found(): boolean {
  try {
    return new Deno.Command("redis-server", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** Case 12. */
export async function throughRedis(ctx: Context): Promise<void> {
  if (!found()) {
    ctx.rows.push({ case: "12 through Redis", variant: "", note: "skipped: no redis-server" });
    return;
  }
  const url = `redis://127.0.0.1:${PORT}`;
  const server = new Deno.Command("redis-server", {
    args: ["--port", String(PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdout: "null",
  }).spawn();
  const workers: Deno.ChildProcess[] = [];
  try {
    await waitFor(url);
    for (let i = 0; i < ctx.cores; i++) {
      workers.push(
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", CLI, "worker", "--redis", url, "-w", "1", "--name", `bench${i}`],
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    await waitForWorkers(url, ctx.cores);
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
    for (const w of workers) {
      try {
        w.kill("SIGKILL");
      } catch {
        // ended
      }
      await w.status;
    }
    server.kill("SIGKILL");
    await server.status;
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

async function waitFor(url: string): Promise<void> {
  const until = performance.now() + 10_000;
  for (;;) {
    try {
      (await RedisClient.connect(url)).close();
      return;
    } catch (error) {
      if (performance.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function waitForWorkers(url: string, count: number): Promise<void> {
  const client = await RedisClient.connect(url);
  try {
    const until = performance.now() + 30_000;
    for (let i = 0; i < count; i++) {
      while ((await client.command("EXISTS", `crunch:worker:bench${i}`)) !== 1) {
        if (performance.now() > until) throw new Error(`bench${i} did not start`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    client.close();
  }
}
