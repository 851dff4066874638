/**
 * The run report: each worker's stage times add up to its busy time, busy
 * and idle to the run's length; the bottleneck is named from the measured
 * split (a classifier that spins is classify-bound, a consumer that takes
 * its results slowly is output-bound); the command writes the report with
 * --report and names the bottleneck after a run of more than a few seconds.
 */
import assert from "node:assert/strict";
import { classify, type RunReport } from "../mod.ts";
import { fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

const spin = fixture("spin.ts");

/** Checks what every report must hold. */
function consistent(report: RunReport, records: number): void {
  assert.equal(report.version, 1);
  assert.equal(report.records, records);
  assert.equal(report.workers.reduce((n, w) => n + w.records, 0), records);
  for (const w of report.workers) {
    const stages = Object.values(w.stages).reduce((a, b) => a + b, 0);
    // The stages are the busy time less the engine's own bookkeeping (a few ms a task).
    assert.ok(stages <= w.busyMs + 1, `${w.worker}: stages ${stages} > busy ${w.busyMs}`);
    assert.ok(
      stages >= w.busyMs * 0.8 - 5 * w.tasks,
      `${w.worker}: stages ${stages}, busy ${w.busyMs}`,
    );
    assert.ok(Math.abs(w.busyMs + w.idleMs - report.elapsedMs) < 1, w.worker);
  }
}

Deno.test("a classifier that spins is named classify-bound; stages add up to busy time", async () => {
  const path = await tempFile("spin.csv", numberedCsv(3_000));
  const results = classify(spin, path, { spec: { us: 300 }, workers: 2, chunkBytes: 4096 });
  assert.equal(results.report(), undefined); // not started
  let n = 0;
  for await (const _ of results) n++;
  assert.equal(n, 3_000);
  const report = results.report()!;
  consistent(report, 3_000);
  assert.equal(report.workers.length, 2);
  for (const w of report.workers) {
    // Each worker's start (loading the plug-in) and init, as the backend timed them.
    assert.ok(w.startMs! > 0 && w.initMs! >= 0, JSON.stringify(w));
  }
  assert.equal(report.bottleneck.kind, "classify");
  assert.match(report.bottleneck.sentence, /^classify-bound: \d+% of worker time in classify/);
  const classifyMs = report.workers.reduce((n, w) => n + w.stages.classifyMs, 0);
  assert.ok(classifyMs >= 3_000 * 0.3 * 0.95, `${classifyMs} ms in classify for 0.9 s of spinning`);
  assert.ok(report.slowestRecords.length > 0 && report.slowestRecords.length <= 10);
  for (const r of report.slowestRecords) {
    assert.equal(r.file, path);
    assert.equal(r.line, r.index + 2); // one line a record, after the header
  }
  assert.ok(report.slowestTasks[0].ms >= report.slowestTasks.at(-1)!.ms);
});

Deno.test("a consumer that takes results slowly is named output-bound", async () => {
  const path = await tempFile("slow.csv", numberedCsv(400));
  const results = classify(fixture("identity.ts"), path, { workers: 2, chunkBytes: 1024 });
  for await (const _ of results) await new Promise((resolve) => setTimeout(resolve, 3));
  const report = results.report()!;
  consistent(report, 400);
  assert.equal(report.bottleneck.kind, "output", report.bottleneck.sentence);
  assert.match(report.bottleneck.sentence, /^output-bound: workers idle \d+% of the time/);
  assert.ok(report.main.consumerMs > report.elapsedMs * 0.5);
});

Deno.test("the command writes --report as JSON and names the bottleneck of a long run", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/in.csv`;
  await Deno.writeTextFile(path, numberedCsv(8_000));
  const run = await runCrunch([
    spin.pathname,
    path,
    "-s",
    '{"us": 900}',
    "-w",
    "2",
    "-o",
    `${dir}/out.ndjson`,
    "--report",
    `${dir}/report.json`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(await Deno.readTextFile(`${dir}/report.json`)) as RunReport;
  consistent(report, 8_000);
  assert.equal(report.bottleneck.kind, "classify");
  assert.match(
    run.stderr,
    /\ncrunch: classify-bound: \d+% of worker time in classify; more workers/,
  );
  // The report file is an output like -o: it may not be the input.
  const refused = await runCrunch([spin.pathname, path, "--report", path]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /would destroy the input/);
});

Deno.test("the slowest record is found among fast ones, with its file, index and line", async () => {
  const path = await tempFile("one-slow.csv", numberedCsv(20_000));
  const results = classify(fixture("one_slow.ts"), path, {
    spec: { id: "12345", ms: 150 },
    workers: 2,
  });
  for await (const _ of results.batches()) { /* drained */ }
  const [slowest] = results.report()!.slowestRecords;
  assert.equal(slowest.file, path);
  assert.ok(slowest.ms >= 150, JSON.stringify(slowest));
  // Fast records are timed in stretches: the slow one lies in the stretch named.
  const records = slowest.records ?? 1;
  assert.ok(slowest.index <= 12345 && 12345 < slowest.index + records, JSON.stringify(slowest));
  assert.equal(slowest.line, slowest.index + 2);
});

Deno.test("a worker 20 times slower stands out in its task times, and in the run's tail", async () => {
  const path = await tempFile("skew.csv", numberedCsv(6_000));
  const results = classify(fixture("slow_worker.ts"), path, {
    spec: { us: 40, factor: 20, worker: 0 },
    workers: 3,
    chunkBytes: 2048,
  });
  for await (const _ of results.batches()) { /* drained */ }
  const report = results.report()!;
  const slow = report.workers.find((w) => w.worker === "worker 0")!;
  const others = report.workers.filter((w) => w !== slow);
  for (const w of others) {
    assert.ok(slow.taskMs!.median > 5 * w.taskMs!.median, JSON.stringify(report.workers));
  }
  assert.ok(report.tail && report.tail.first95Ms > 0 && report.tail.last5Ms >= 0);
});
