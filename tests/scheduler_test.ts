/**
 * The run's core against a fake in-memory backend: bisection, maxRespawns
 * and ordering, checked in milliseconds without real workers.
 */
import assert from "node:assert/strict";
import { RecordError, WorkerCrashError } from "../mod.ts";
import { resolveRunOptions, type RunOptions } from "../lib/options.ts";
import { Engine } from "../lib/run/engine.ts";
import { RunIterator } from "../lib/run/iterator.ts";
import { type Behaviour, FakeBackend } from "./fake_backend.ts";
import { collect } from "./helpers.ts";

function run(rows: unknown[], behaviour: Behaviour, options: RunOptions = {}, workers = 2) {
  const backend = new FakeBackend(workers, behaviour);
  const engine = new Engine(rows, resolveRunOptions(options), {
    workers,
    acquire: () => Promise.resolve(backend),
    release: () => Promise.resolve(),
  });
  return { backend, results: new RunIterator(engine) };
}

const numbers = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("a poison record in a batch of 1000 is found by bisection, in about log2(1000) + 3 deaths", async () => {
  const errors: RecordError[] = [];
  const { backend, results } = run(numbers(5000), (row) => row === 1234 ? "die" : row, {
    batchSize: 1000,
    onError: (e) => errors.push(e as RecordError),
    ordered: true,
  });
  const out = await collect(results);
  assert.deepEqual(out, numbers(5000).filter((n) => n !== 1234));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].index, 1234);
  assert.equal(errors[0].cause.name, "WorkerCrashError");
  assert.ok(backend.log.deaths >= 10 && backend.log.deaths <= 14, `${backend.log.deaths} deaths`);
  // Records classified before a death are re-sent; none reported twice.
  assert.equal(new Set(out).size, out.length);
});

Deno.test("two poison records in one batch are both isolated", async () => {
  const errors: RecordError[] = [];
  const { results } = run(numbers(300), (row) => row === 7 || row === 250 ? "die" : row, {
    batchSize: 300,
    onError: (e) => errors.push(e as RecordError),
  });
  const out = await collect(results);
  assert.equal(out.length, 298);
  assert.deepEqual(errors.map((e) => e.index).sort((a, b) => a - b), [7, 250]);
});

Deno.test("maxRespawns counts deaths in a row without a classified record, bisection aside", async () => {
  const { backend, results } = run(numbers(100), () => "die", { maxRespawns: 4, onError: "skip" });
  await assert.rejects(
    collect(results),
    (e) => e instanceof WorkerCrashError && /died 5 times in a row.*maxRespawns: 4/.test(e.message),
  );
  // Deaths that split the suspect records in halves are not counted: 7 splits of 100 records.
  assert.ok(backend.log.deaths >= 5 && backend.log.deaths <= 5 + 8, `${backend.log.deaths} deaths`);
});

Deno.test("a poison record first in a chunk of 87,000 is isolated under the default maxRespawns", async () => {
  const errors: RecordError[] = [];
  const { backend, results } = run(numbers(87_000), (row) => row === 0 ? "die" : row, {
    batchSize: 87_000,
    onError: (e) => errors.push(e as RecordError),
  });
  const out = await collect(results);
  assert.equal(out.length, 86_999);
  assert.deepEqual(errors.map((e) => e.index), [0]);
  assert.ok(backend.log.deaths > 16, `${backend.log.deaths} deaths: more than maxRespawns`);
});

Deno.test("under onError fail, an isolated record ends the run after the results before it", async () => {
  const { results } = run(numbers(100), (row) => row === 50 ? "die" : row, {
    batchSize: 10,
    ordered: true,
  });
  const seen: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const r of results) seen.push(r);
    })(),
    (e) => e instanceof RecordError && e.index === 50,
  );
  assert.deepEqual(seen, numbers(50));
});

Deno.test("tagged results keep their input index through retries", async () => {
  const { results } = run(
    numbers(200),
    (row) => row === 42 ? "die" : row,
    { batchSize: 50, tagged: true, onError: "skip" },
  );
  const out = (await collect(results)) as { index: number; result: number }[];
  assert.equal(out.length, 199);
  for (const r of out) assert.equal(r.index, r.result);
});
