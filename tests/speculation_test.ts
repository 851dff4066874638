/**
 * Speculative tails: a worker 20 times slower than the others holds the
 * last tasks; once no task waits, idle workers race copies of its
 * stragglers. Every record still yields exactly one result, in order,
 * byte-identical to a run without speculation; copies that won are counted;
 * the slow worker's late outcomes are dropped unseen. On threads, processes
 * and crunch workers through Redis.
 */
import assert from "node:assert/strict";
import { classify, type RunReport } from "../mod.ts";
import { collect, fixture, numberedCsv, tempFile } from "./helpers.ts";
import { HAVE_REDIS, RedisServer, startWorkers } from "./redis_harness.ts";

const SLOW = { us: 400, factor: 20, worker: 0 };

/** A run over `path` with one slow worker of three; its ids in order, and its report. */
async function run(path: string, options: Record<string, unknown>) {
  const results = classify<{ id: string }>(fixture("slow_worker.ts"), path, {
    spec: SLOW,
    workers: 3,
    chunkBytes: 2048,
    ordered: true,
    ...options,
  });
  const ids = (await collect(results)).map((r) => r.id);
  return { ids, report: results.report() as RunReport };
}

for (const isolation of ["thread", "process"] as const) {
  Deno.test(`[${isolation}] copies of a slow worker's tasks win on idle workers; every record once, in order`, async () => {
    const path = await tempFile("slow.csv", numberedCsv(3_000));
    const raced = await run(path, { isolation });
    assert.deepEqual(raced.ids, Array.from({ length: 3_000 }, (_, i) => String(i)));
    assert.ok(raced.report.speculated >= 1, JSON.stringify(raced.report));
    assert.ok(raced.report.speculationsWon >= 1, JSON.stringify(raced.report));
    assert.equal(raced.report.results, 3_000);
    const plain = await run(path, { isolation, speculate: false });
    assert.deepEqual(plain.ids, raced.ids);
    assert.equal(plain.report.speculated, 0);
  });
}

Deno.test({
  name: "[redis] a slow worker's stragglers are split or raced through Redis; every record once",
  ignore: !HAVE_REDIS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await RedisServer.start();
    // One crunch worker of three workers: its worker 0 is the slow one.
    const workers = await startWorkers(server, 1, ["-w", "3"]);
    try {
      const path = await tempFile("slow-redis.csv", numberedCsv(3_000));
      const raced = await run(path, { redis: server.url() });
      assert.deepEqual(raced.ids, Array.from({ length: 3_000 }, (_, i) => String(i)));
      // Through Redis no task waits behind another in a worker: the slow worker's straggler is
      // split among the idle ones (its own part raced if it straggles still), or raced.
      const { speculationsWon, splits } = raced.report;
      assert.ok(speculationsWon + splits >= 1, JSON.stringify(raced.report));
    } finally {
      await Promise.all(workers.map((w) => w.stop("SIGTERM")));
      await server.stop();
    }
  },
});

Deno.test("[thread] a raced task writes one part: the copy that loses leaves no file", async () => {
  const path = await tempFile("slow-parts.csv", numberedCsv(3_000));
  const dir = await Deno.makeTempDir();
  const results = classify(fixture("slow_worker.ts"), path, {
    spec: SLOW,
    workers: 3,
    chunkBytes: 2048,
    ordered: true,
    outputDir: dir,
  });
  const parts = await collect(results);
  const report = results.report() as RunReport;
  assert.ok(report.speculated >= 1, JSON.stringify(report));
  const ids = parts.flatMap((p) =>
    Deno.readTextFileSync(p.path).trim().split("\n").map((l) => JSON.parse(l).id)
  );
  assert.deepEqual(ids, Array.from({ length: 3_000 }, (_, i) => String(i)));
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(files, ["_SUCCESS", ...parts.map((p) => p.name)]);
});
