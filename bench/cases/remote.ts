/**
 * Case 14: inputs by URL. nginx on this machine serves the shapes; a pool
 * reads each by URL (the workers' byte-range requests; the gzip file
 * streamed by the main thread) against the same file by path, in the same
 * rounds, with the trivial classifier and the seed workload. Then two
 * `crunch worker`s through Redis read the plain file by URL against by
 * shared path.
 *
 * @module
 */

import { Pool } from "../../mod.ts";
import { type Context, here, sizeMb } from "../context.ts";
import { FolderServer, HAVE_NGINX } from "../../tests/http_harness.ts";
import { HAVE_REDIS, RedisServer, startWorkers } from "../../tests/redis_harness.ts";
import { inProcess, ratioOf, type RoundResult, rounds } from "../runner.ts";
import { SHAPES } from "../shapes.ts";
import { scale } from "../stats.ts";
import { shapeFile, TRIVIAL } from "./shapes.ts";

const LEXICON = here("../examples/lexicon.ts");
const CASE = "14 inputs by URL";

/** Counts what `pool` gives for `input`. */
async function count(pool: Pool, input: string): Promise<number> {
  let n = 0;
  for await (const batch of pool.classify(input).batches()) n += batch.length;
  return n;
}

/** Case 14. */
export async function remoteInputs(ctx: Context): Promise<void> {
  if (!HAVE_NGINX) {
    ctx.rows.push({ case: CASE, variant: "", note: "skipped: nginx is not installed" });
    return;
  }
  const root = await Deno.makeTempDir({ prefix: "crunch-bench-http-" });
  const server = await FolderServer.nginx(root);
  try {
    const plans: [string, URL, string[]][] = [
      ["trivial", TRIVIAL, ["plain", "quoted-5pct", "multibyte", "ndjson-nested"]],
      ["seed (Map lexicon)", LEXICON, ["plain"]],
    ];
    for (const [name, module, shapes] of plans) {
      const pool = await Pool.start(module, { workers: ctx.cores });
      for (const shapeName of shapes) {
        const path = await shapeFile(ctx, SHAPES.find((s) => s.name === shapeName)!);
        const file = path.slice(path.lastIndexOf("/") + 1);
        await Deno.symlink(path, `${root}/${file}`).catch(() => {});
        const mb = await sizeMb(path);
        const [local, remote] = await rounds(
          [
            inProcess("by path", () => count(pool, path)),
            inProcess("by URL (nginx, byte ranges)", () => count(pool, server.url(file))),
          ],
          ctx.reps,
          (line) => ctx.log(`url ${name} ${shapeName}: ${line}`),
        );
        pair(ctx, `${name}, ${shapeName}, ${ctx.cores} workers: `, mb, local, remote, "path");
      }
      await pool.close();
    }
    await throughRedis(ctx, server, root);
  } finally {
    await server.stop();
  }
}

/** Two crunch workers through Redis: the plain file by URL against by shared path. */
async function throughRedis(ctx: Context, server: FolderServer, root: string): Promise<void> {
  if (!HAVE_REDIS) return;
  const path = await shapeFile(ctx, SHAPES.find((s) => s.name === "plain")!);
  const file = path.slice(path.lastIndexOf("/") + 1);
  await Deno.symlink(path, `${root}/${file}`).catch(() => {});
  const mb = await sizeMb(path);
  const redis = await RedisServer.start();
  const workers = await startWorkers(redis, ctx.cores, ["-w", "1"]);
  const pool = await Pool.start(TRIVIAL, { redis: redis.url() });
  try {
    const [shared, url] = await rounds(
      [
        inProcess("through Redis, by shared path", () => count(pool, path)),
        inProcess("through Redis, by URL", () => count(pool, server.url(file))),
      ],
      ctx.reps,
      (line) => ctx.log(`url redis: ${line}`),
    );
    pair(ctx, `trivial, plain, ${ctx.cores} crunch workers `, mb, shared, url, "shared path");
  } finally {
    await pool.close();
    await Promise.all(workers.map((w) => w.stop("SIGKILL")));
    await redis.stop();
  }
}

/** The rows of a pair measured in the same rounds: `base`, then `other` as a ratio of it. */
function pair(
  ctx: Context,
  where: string,
  mb: number,
  base: RoundResult,
  other: RoundResult,
  by: string,
): void {
  const perMb = (r: RoundResult) => scale(r.rate, mb / r.records);
  ctx.rows.push({
    case: CASE,
    variant: where + base.label,
    rate: base.rate,
    mbPerSecond: perMb(base),
  });
  ctx.rows.push({
    case: CASE,
    variant: where + other.label,
    rate: other.rate,
    mbPerSecond: perMb(other),
    ratio: ratioOf(other, base),
    ratioOf: `of the speed by ${by}`,
  });
}
