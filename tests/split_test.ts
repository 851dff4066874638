/**
 * Splitting a straggling task in flight: a region of costly records (every
 * worker is slow on them) falls in one byte range; once it straggles, its
 * worker cuts what it has not started and idle workers take the parts. The
 * records land as an unsplit run's do: every record once, in order, each
 * quoted multi-line field whole (the whole region is quoted newlines, so
 * every cut falls among them), errors at their index and line, a record
 * that kills its worker isolated, the command's output byte for byte.
 */
import assert from "node:assert/strict";
import { classify, type RecordError, type RunReport } from "../mod.ts";
import { collect, fixture, tempFile } from "./helpers.ts";
import { HAVE_REDIS, RedisServer, startWorkers } from "./redis_harness.ts";

const RECORDS = 20_000;
const [FROM, TO] = [7_000, 7_600];

/** 20,000 records; those in the costly region hold a quoted field with newlines, quotes and commas. */
function text(i: number): string {
  return i >= FROM && i < TO ? `line one ${i}\nline "two", ${i}\n` : `row ${i}`;
}

function csv(): string {
  let out = "id,text\n";
  for (let i = 0; i < RECORDS; i++) {
    const t = text(i);
    out += /[\n",]/.test(t) ? `${i},"${t.replaceAll('"', '""')}"\n` : `${i},${t}\n`;
  }
  return out;
}

type Row = { id: string; text: string };

/** A run over `path`: the region costs 4 ms a record (2.4 s in all, in one task). */
async function run(path: string, options: Record<string, unknown>, spec = {}) {
  const errors: RecordError[] = [];
  const results = classify<Row>(fixture("slow_region.ts"), path, {
    spec: { us: 4_000, from: FROM, to: TO, ...spec },
    workers: 3,
    chunkBytes: 64 * 1024,
    ordered: true,
    onError: (error) => void errors.push(error as RecordError),
    ...options,
  });
  const rows = await collect(results);
  return { rows, errors, report: results.report() as RunReport };
}

for (const isolation of ["thread", "process"] as const) {
  Deno.test(`[${isolation}] a slow region is split among idle workers; its records land as unsplit`, async () => {
    const path = await tempFile("region.csv", csv());
    const split = await run(path, { isolation }, { fail: 97 });
    assert.ok(split.report.splits >= 1, JSON.stringify(split.report));
    const failing = (i: number) => i >= FROM && i < TO && i % 97 === 0;
    const expected = Array.from({ length: RECORDS }, (_, i) => i).filter((i) => !failing(i));
    assert.deepEqual(split.rows.map((r) => Number(r.id)), expected);
    for (const row of split.rows) assert.equal(row.text, text(Number(row.id)));
    // Each failing record once, at its index and the line where it starts (3 lines a record).
    assert.deepEqual(
      split.errors.map((e) => [e.index, e.line]),
      Array.from({ length: RECORDS }, (_, i) => i).filter(failing).map((i) => [
        i,
        2 + i + 2 * (i - FROM),
      ]),
    );
    const plain = await run(path, { isolation, speculate: false }, { fail: 97 });
    assert.equal(plain.report.splits, 0);
    assert.deepEqual(plain.rows, split.rows);
    assert.deepEqual(plain.errors.map((e) => e.index), split.errors.map((e) => e.index));
  });
}

Deno.test("[process] a record that kills whichever worker runs it, in a split region, is isolated", async () => {
  const path = await tempFile("region-die.csv", csv());
  const die = TO - 10; // in a later part: a tail's worker dies on it
  const { rows, errors, report } = await run(path, { isolation: "process" }, { die });
  assert.ok(report.splits >= 1 && report.respawns >= 1, JSON.stringify(report));
  assert.deepEqual(
    rows.map((r) => Number(r.id)),
    Array.from({ length: RECORDS }, (_, i) => i).filter((i) => i !== die),
  );
  assert.deepEqual(errors.map((e) => [e.index, e.cause.name]), [[die, "WorkerCrashError"]]);
});

Deno.test("the command: split and unsplit runs write the same bytes", async () => {
  const path = await tempFile("region-cli.csv", csv());
  const dir = await Deno.makeTempDir();
  const outputs: string[] = [];
  for (const extra of [[], ["--no-speculate"]]) {
    const out = `${dir}/out${extra.length}.ndjson`;
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-worker-options",
        new URL("../lib/cli/main.ts", import.meta.url).pathname,
        fixture("slow_region.ts").href,
        path,
        "--spec",
        JSON.stringify({ us: 4_000, from: FROM, to: TO }),
        "-w",
        "3",
        "--chunk-bytes",
        "65536",
        "--ordered",
        "-t",
        "ndjson",
        "-o",
        out,
        "--report",
        `${out}.report.json`,
        ...extra,
      ],
      stdout: "null",
      stderr: "piped",
    });
    const { code, stderr } = await command.output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    outputs.push(await Deno.readTextFile(out));
    const report = JSON.parse(await Deno.readTextFile(`${out}.report.json`));
    assert.equal(report.splits > 0, extra.length === 0, JSON.stringify(report));
  }
  assert.equal(outputs[0], outputs[1]);
  assert.equal(outputs[0].trim().split("\n").length, RECORDS);
});

Deno.test({
  name: "[redis] a slow region is split among idle crunch workers; its records land as unsplit",
  ignore: !HAVE_REDIS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await RedisServer.start();
    // Three worker processes of one local worker each: the parts go to other machines.
    const workers = await startWorkers(server, 3, ["-w", "1"]);
    try {
      const path = await tempFile("region-redis.csv", csv());
      const split = await run(path, { redis: server.url() });
      assert.ok(split.report.splits >= 1, JSON.stringify(split.report));
      assert.deepEqual(
        split.rows.map((r) => Number(r.id)),
        Array.from({ length: RECORDS }, (_, i) => i),
      );
      for (const row of split.rows) assert.equal(row.text, text(Number(row.id)));
    } finally {
      await Promise.all(workers.map((w) => w.stop("SIGTERM")));
      await server.stop();
    }
  },
});
