/**
 * Fault tolerance: a run survives crashing workers and poison records, and
 * never hangs. Every case checks that the run ends (or goes on) as documented,
 * within a bound of seconds, and that results plus errors equal the records.
 */
import assert from "node:assert/strict";
import {
  classify,
  type ParseError,
  Pool,
  type Progress,
  RecordError,
  WorkerCrashError,
} from "../mod.ts";
import { CLI, collect, deadline, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

const crash = fixture("crash.ts");

interface Outcome {
  results: unknown[];
  errors: (RecordError | ParseError)[];
  progress: Progress;
  seconds: number;
  thrown?: unknown;
}

async function run(path: string, options: Parameters<typeof classify>[2]): Promise<Outcome> {
  const started = performance.now();
  const results: unknown[] = [];
  const errors: (RecordError | ParseError)[] = [];
  let progress: Progress | undefined;
  let thrown: unknown;
  try {
    for await (
      const r of classify(crash, path, {
        workers: 2,
        onError: (e) => errors.push(e),
        onProgress: (p) => progress = p,
        ...options,
      })
    ) results.push(r);
  } catch (error) {
    thrown = error;
  }
  return {
    results,
    errors,
    progress: progress!,
    seconds: (performance.now() - started) / 1000,
    thrown,
  };
}

for (const how of ["exit", "close"] as const) {
  Deno.test(`${how} on one record in a chunk of 10,000: that record is isolated, the rest classified`, async () => {
    const path = await tempFile("data.csv", numberedCsv(30_000));
    const out = await run(path, { spec: { how, at: "14321" } });
    assert.equal(out.thrown, undefined);
    assert.equal(out.results.length + out.errors.length, 30_000);
    assert.equal(out.errors.length, 1);
    const e = out.errors[0] as RecordError;
    assert.ok(e instanceof RecordError);
    assert.equal(e.index, 14321);
    assert.equal(e.line, 14323);
    assert.equal(e.cause.name, "WorkerCrashError");
    assert.match(e.message, /the worker died while classifying this record/);
    assert.equal(out.progress.isolated, 1);
    assert.ok(
      out.progress.respawns >= 3 && out.progress.respawns <= 20,
      `${out.progress.respawns}`,
    );
    assert.ok(out.seconds < 30, `${out.seconds} s`);
    assert.equal(new Set(out.results).size, 29_999, "no record twice");
  });
}

for (const how of ["timer", "rejection"] as const) {
  Deno.test(`an error escaping from a ${how} kills the worker; it is replaced and nothing is lost`, async () => {
    const path = await tempFile("data.csv", numberedCsv(100_000));
    const out = await run(path, { spec: { how, at: "50000" }, chunkBytes: 64 * 1024 });
    assert.equal(out.thrown, undefined);
    assert.equal(out.results.length, 100_000);
    assert.equal(new Set(out.results).size, 100_000);
    assert.ok(out.progress.respawns >= 1);
    assert.ok(out.seconds < 30);
  });
}

Deno.test("under onError fail, the isolated record ends the run with its RecordError", async () => {
  const path = await tempFile("data.csv", numberedCsv(5000));
  const out = await run(path, { spec: { how: "exit", at: "4000" }, onError: "fail" });
  assert.ok(out.thrown instanceof RecordError);
  assert.equal(out.thrown.index, 4000);
  assert.ok(out.seconds < 30);
});

Deno.test("a classifier that crashes on every record gives up with a clear error", async () => {
  const path = await tempFile("data.csv", numberedCsv(5000));
  const out = await run(path, { spec: { how: "exit", at: "*" }, maxRespawns: 5 });
  assert.ok(out.thrown instanceof WorkerCrashError, String(out.thrown));
  assert.match(
    out.thrown.message,
    /the classifier called Deno\.exit\(3\); workers died 6 times in a row without finishing a record, so the run gave up \(maxRespawns: 5\)/,
  );
  assert.ok(out.seconds < 15);
});

Deno.test("exit in init fails the start with WorkerCrashError", async () => {
  const path = await tempFile("data.csv", numberedCsv(10));
  const out = await run(path, { spec: { how: "exit", at: "init" } });
  assert.ok(out.thrown instanceof WorkerCrashError);
  assert.match(out.thrown.message, /Deno\.exit\(3\)/);
});

Deno.test("maxChunksPerWorker recycles workers (close() each time) and loses nothing", async () => {
  const dir = await Deno.makeTempDir();
  const path = await tempFile("data.csv", numberedCsv(20_000));
  let progress: Progress | undefined;
  let n = 0;
  for await (
    const _ of classify(fixture("close_marker.ts"), path, {
      workers: 2,
      chunkBytes: 16 * 1024,
      maxChunksPerWorker: 1,
      spec: { dir },
      onProgress: (p) => progress = p,
    })
  ) n++;
  assert.equal(n, 20_000);
  assert.ok(progress!.recycled >= 5, `recycled ${progress!.recycled}`);
  assert.equal(progress!.respawns, 0);
  assert.equal(await Deno.readTextFile(`${dir}/closed-0`), "1", "each worker closed once");
});

Deno.test("a Pool goes on after a crash, with a fresh worker that ran init", async () => {
  await using pool = await Pool.start(crash, { workers: 2, spec: { how: "exit", at: "7" } });
  const rows = Array.from({ length: 50 }, (_, i) => ({ id: String(i) }));
  const errors: unknown[] = [];
  const out = [];
  for await (const r of pool.classify(rows, { onError: (e) => errors.push(e), batchSize: 10 })) {
    out.push(r);
  }
  assert.equal(out.length, 49);
  assert.equal((errors[0] as RecordError).index, 7);
  const again = [];
  for await (const r of pool.classify(rows.slice(10), {})) again.push(r);
  assert.equal(again.length, 40);
});

Deno.test("a run that starts while a lost worker is still being replaced waits for it", async () => {
  // The first run ends while the worker that died on record 7 is still in its slow init; the
  // second must not hand that worker tasks before it is ready (they were dropped: a hang).
  await using pool = await Pool.start(crash, {
    workers: 2,
    spec: { how: "exit", at: "7", initMs: 400 },
  });
  const rows = Array.from({ length: 50 }, (_, i) => ({ id: String(i) }));
  const first = await collect(pool.classify(rows, { onError: () => {}, batchSize: 10 }));
  assert.equal(first.length, 49);
  const second = await deadline(collect(pool.classify(rows.slice(10), { batchSize: 5 })), 10_000);
  assert.equal(second.length, 40);
});

Deno.test("a record that hangs past the timeout is isolated, and the command still exits", async () => {
  const path = await tempFile("data.csv", numberedCsv(400));
  const r = await runCrunch([
    "--timeout",
    "300",
    "--chunk-bytes",
    "1k",
    "--on-error",
    "skip",
    "-s",
    '{"how": "hang", "at": "123"}',
    crash.pathname,
    path,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 399);
  assert.match(r.stderr, /400 records in, 399 results out, 1 error\b/);
  assert.match(r.stderr, /1 isolated/);
  assert.ok(r.seconds < 30, `${r.seconds} s`);
});

Deno.test("recovery keeps input order under ordered: true, and works for streams (kept copies)", async () => {
  const path = await tempFile("data.csv", numberedCsv(5000));
  for (const input of ["file", "stream"] as const) {
    const source = input === "file" ? path : (await Deno.open(path)).readable;
    const errors: RecordError[] = [];
    const out: unknown[] = [];
    for await (
      const r of classify(crash, source, {
        workers: 2,
        format: "csv",
        chunkBytes: 4096,
        ordered: true,
        onError: (e) => errors.push(e as RecordError),
        spec: { how: "exit", at: "2500" },
      })
    ) out.push(r);
    const expected = Array.from({ length: 5000 }, (_, i) => String(i)).filter((id) =>
      id !== "2500"
    );
    assert.deepEqual(out, expected, input);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].index, 2500);
    assert.equal(errors[0].line, 2502);
  }
});

Deno.test("a batch with a row that cannot be sent survives a crash in the same batch", async () => {
  const rows: unknown[] = Array.from({ length: 40 }, (_, i) => ({ id: String(i) }));
  rows[5] = { id: "5", f: () => 0 }; // cannot be cloned
  const errors: RecordError[] = [];
  const out: unknown[] = [];
  for await (
    const r of classify(crash, rows, {
      workers: 1,
      batchSize: 40,
      ordered: true,
      onError: (e) => errors.push(e as RecordError),
      spec: { how: "exit", at: "20" },
    })
  ) out.push(r);
  assert.equal(out.length + errors.length, 40);
  assert.deepEqual(errors.map((e) => e.index).sort((a, b) => a - b), [5, 20]);
  assert.equal(out.includes("5") || out.includes("20"), false);
  assert.deepEqual(
    out,
    Array.from({ length: 40 }, (_, i) => String(i)).filter((id) => id !== "5" && id !== "20"),
  );
});

Deno.test("cancelling during a slow init stops the workers at once", async () => {
  const path = await tempFile("data.csv", numberedCsv(10));
  const controller = new AbortController();
  const started = performance.now();
  setTimeout(() => controller.abort(new Error("gave up")), 300);
  await assert.rejects(
    deadline(
      collect(classify(fixture("hang_init.ts"), path, { workers: 2, signal: controller.signal })),
      5000,
    ),
    /gave up/,
  );
  assert.ok(performance.now() - started < 3000);
  // return() while init is pending does not wait for it either.
  const it = classify(fixture("hang_init.ts"), path, { workers: 2 });
  const pending = it.next();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const t0 = performance.now();
  await deadline(it.return!(), 3000);
  await pending.catch(() => {});
  assert.ok(performance.now() - t0 < 2000);
});

Deno.test("Ctrl-C during init ends the command at once with 130", async () => {
  const path = await tempFile("data.csv", numberedCsv(10));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--no-progress", fixture("hang_init.ts").pathname, path],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const t0 = performance.now();
  child.kill("SIGINT");
  const out = await deadline(child.output(), 10_000);
  assert.equal(out.code, 130, new TextDecoder().decode(out.stderr));
  assert.ok(performance.now() - t0 < 3000);
});

Deno.test("--timeout with more workers than cores does not call healthy records poison", async () => {
  const path = await tempFile("data.csv", numberedCsv(400));
  const workers = 4 * navigator.hardwareConcurrency;
  const r = await runCrunch([
    "--no-progress",
    "-w",
    String(workers),
    "--timeout",
    "100",
    "--chunk-bytes",
    "512",
    "-s",
    '{"ms": 20}',
    fixture("slow.ts").pathname,
    path,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /400 records in, 400 results out, 0 errors/);
  assert.doesNotMatch(r.stderr, /isolated/);
});

Deno.test("maxWorkerMemory replaces a thread whose heap grew past it, between tasks", async () => {
  const path = await tempFile("data.csv", numberedCsv(3000));
  let progress: Progress | undefined;
  const results = await collect(classify(fixture("heap.ts"), path, {
    workers: 2,
    maxWorkerMemory: 64,
    chunkBytes: 2048,
    spec: { kb: 64 },
    onProgress: (p) => progress = p,
  }));
  assert.equal(results.length, 3000);
  assert.ok(progress!.recycled >= 1, `recycled ${progress!.recycled}`);
  assert.equal(progress!.respawns, 0);
});

Deno.test("a worker that dies in close() after a complete run is a warning, not a failure", async () => {
  const path = await tempFile("data.csv", numberedCsv(100));
  const r = await runCrunch([
    "--no-progress",
    "-s",
    '{"how": "exit"}',
    fixture("close_dies.ts").pathname,
    path,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 100);
  assert.match(
    r.stderr,
    /warning: worker \d died while closing: the classifier called Deno\.exit\(4\)/,
  );
});
