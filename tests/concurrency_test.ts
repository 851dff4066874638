/** Classifiers that wait (concurrency), that batch (classifyBatch), that fail transiently, and rate limits. */
import assert from "node:assert/strict";
import { classify, Pool, type Progress, RecordError } from "../mod.ts";
import { collect, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: String(i) }));

Deno.test("concurrency: up to n records wait at once in each worker; order and tags as with 1", async () => {
  for (const concurrency of [1, 8]) {
    const out = await collect(
      classify<{ id: string; most: number }>(fixture("waits.ts"), rows(300), {
        workers: 2,
        concurrency,
        ordered: true,
        tagged: true,
        spec: { ms: 2 },
      }),
    );
    assert.deepEqual(out.map((t) => t.index), Array.from({ length: 300 }, (_, i) => i));
    assert.ok(out.every((t) => t.result.id === String(t.index)));
    assert.equal(Math.max(...out.map((t) => t.result.most)), concurrency);
  }
});

Deno.test("concurrency over a file: every record once, errors in place", async () => {
  const path = await tempFile("c.csv", numberedCsv(5000));
  const errors: RecordError[] = [];
  const out = await collect(classify<{ id: string }>(fixture("policy.ts"), path, {
    workers: 2,
    concurrency: 16,
    chunkBytes: 4096,
    spec: { async: true, throwOn: Array.from({ length: 50 }, (_, k) => String(k * 100)) },
    onError: (e) => errors.push(e as RecordError),
  }));
  assert.equal(out.length + errors.length, 5000);
  assert.equal(errors.length, 50);
  assert.ok(errors.every((e) => Number((e.record as { id: string }).id) % 100 === 0));
});

Deno.test("concurrency under onError fail stops at the failing record", async () => {
  const path = await tempFile("c.csv", numberedCsv(2000));
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (
      const r of classify<{ id: string }>(fixture("policy.ts"), path, {
        workers: 1,
        concurrency: 8,
        ordered: true,
        spec: { async: true, throwOn: ["700"] },
      })
    ) seen.push(r.id);
  }, (e) => e instanceof RecordError && e.index === 700);
  assert.deepEqual(seen, Array.from({ length: 700 }, (_, i) => String(i)));
});

Deno.test("a RetryableError is tried again and succeeds; the retries are counted", async () => {
  let last: Progress | undefined;
  const out = await collect(classify<{ attempts: number }>(fixture("flaky.ts"), rows(40), {
    workers: 2,
    spec: { failures: 2 },
    onProgress: (p) => last = p,
  }));
  assert.equal(out.length, 40);
  assert.ok(out.every((r) => r.attempts === 3));
  assert.equal(last!.retriedRecords, 80);
});

Deno.test("a record that keeps failing retryably is a RecordError after the retries, others go on", async () => {
  const errors: RecordError[] = [];
  const out = await collect(classify(fixture("flaky.ts"), [...rows(10), { id: "poison" }], {
    workers: 1,
    retries: 2,
    spec: { failures: 0 },
    concurrency: 4,
    onError: (e) => errors.push(e as RecordError),
  }));
  assert.equal(out.length, 10);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].cause.name, "RetryableError");
  assert.match(errors[0].cause.message, /attempt 3 of poison failed/);
  // retries: 0 turns it off: the first failure is final.
  const none: RecordError[] = [];
  await collect(classify(fixture("flaky.ts"), rows(3), {
    retries: 0,
    onError: (e) => none.push(e as RecordError),
  }));
  assert.equal(none.length, 3);
});

Deno.test("classifyBatch gets batches of batchRecords; a failing batch is run row by row", async () => {
  const input = [...rows(500), { id: "bad" }, ...rows(3)];
  const errors: RecordError[] = [];
  const out = await collect(classify<{ id: string; batch: number }>(fixture("batched.ts"), input, {
    workers: 2,
    batchRecords: 50,
    ordered: true,
    onError: (e) => errors.push(e as RecordError),
  }));
  assert.equal(out.length, 503);
  assert.ok(out.every((r) => r.batch <= 50));
  assert.ok(out.filter((r) => r.batch === 50).length >= 400);
  assert.equal(errors.length, 1);
  assert.deepEqual(errors[0].record, { id: "bad" });
  assert.equal(errors[0].index, 500);
});

Deno.test("rateLimit spaces calls across all workers", async () => {
  await using pool = await Pool.start(fixture("identity.ts"), { workers: 2 });
  const started = performance.now();
  const out = await collect(pool.classify(rows(30), { rateLimit: { perSecond: 60 } }));
  const seconds = (performance.now() - started) / 1000;
  assert.equal(out.length, 30);
  // 30 calls at 60 a second over both workers cannot take less than about half a second.
  assert.ok(seconds >= 0.45, `${seconds} s`);
});

Deno.test("the command: --concurrency, --retries, --rate-limit; retries in the summary", async () => {
  const path = await tempFile("f.csv", "id\n1\n2\n3\n");
  const r = await runCrunch([
    "-c",
    "4",
    "--retries",
    "2",
    "--ordered",
    fixture("flaky.ts").pathname,
    path,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 3);
  assert.match(r.stderr, /3 records in, 3 results out, 0 errors, 3 classify retries/);
  const bad = await runCrunch(["--rate-limit", "0", fixture("flaky.ts").pathname, path]);
  assert.equal(bad.code, 2);
});
