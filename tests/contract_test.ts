/**
 * The backend contract: the same behaviour tests run against every kind of
 * worker (Web Workers in this process, worker processes, and `crunch
 * worker` processes through a real redis-server where one can be run), as
 * tinypool runs the same checks under threads and child processes.
 */
import assert from "node:assert/strict";
import {
  classify,
  CrunchError,
  type ParseError,
  Pool,
  type Progress,
  RecordError,
  WorkerCrashError,
} from "../mod.ts";
import { expected, pluginFolder } from "./plugin_folder.ts";
import { HAVE_REDIS, RedisServer, startWorkers, type WorkerProcess } from "./redis_harness.ts";
import { FolderServer, HAVE_NGINX } from "./http_harness.ts";
import { asDuck, duckRows, typedTable, writeParquet } from "./parquet_data.ts";
import { duckdb } from "./duckdb.ts";
import { concat } from "../lib/wire/frames.ts";
import {
  awkwardCsv,
  collect,
  deadline,
  fixture,
  numberedCsv,
  runCrunch,
  runDeno,
  tempFile,
} from "./helpers.ts";

const crash = fixture("crash.ts");
const policy = fixture("policy.ts");

/** How a mode's runs reach their workers: the library's options, and the command's flags. */
interface Mode {
  name: string;
  /** Runs through Redis share a server and workers started for them (not sanitized per test). */
  shared: boolean;
  options(): Promise<{ isolation?: "thread" | "process"; redis?: string }>;
  /** The options without starting anything (for checks made before any worker starts). */
  sync(): { isolation?: "thread" | "process"; redis?: string };
  flags(): Promise<string[]>;
}

const local = (isolation: "thread" | "process"): Mode => ({
  name: isolation,
  shared: false,
  options: () => Promise.resolve({ isolation }),
  sync: () => ({ isolation }),
  flags: () => Promise.resolve(["--isolation", isolation]),
});

/** A redis-server and two `crunch worker` processes of one worker each, started once. */
const fleet = {
  started: undefined as Promise<{ server: RedisServer; workers: WorkerProcess[] }> | undefined,
  start() {
    this.started ??= (async () => {
      const server = await RedisServer.start();
      const workers = await startWorkers(server, 2, ["-w", "1"]);
      return { server, workers };
    })();
    return this.started;
  },
};

const redis: Mode = {
  name: "redis",
  shared: true,
  options: async () => ({ redis: (await fleet.start()).server.url() }),
  sync: () => ({ redis: "redis://127.0.0.1:1" }),
  flags: async () => ["--redis", (await fleet.start()).server.url()],
};

const MODES: Mode[] = [local("thread"), local("process"), ...(HAVE_REDIS ? [redis] : [])];

for (const mode of MODES) {
  const test = (name: string, fn: () => void | Promise<void>) =>
    Deno.test({
      name: `[${mode.name}] ${name}`,
      fn,
      sanitizeOps: !mode.shared,
      sanitizeResources: !mode.shared,
    });

  test("concurrency, retries, classifyBatch and a rate limit behave alike", async () => {
    const rows = Array.from({ length: 120 }, (_, i) => ({ id: String(i) }));
    const waited = await collect(classify<{ id: string; most: number }>(fixture("waits.ts"), rows, {
      ...await mode.options(),
      workers: 2,
      concurrency: 6,
      ordered: true,
      spec: { ms: 2 },
    }));
    assert.deepEqual(waited.map((r) => r.id), rows.map((r) => r.id));
    assert.equal(Math.max(...waited.map((r) => r.most)), 6);
    let last: Progress | undefined;
    const flaky = await collect(classify(fixture("flaky.ts"), rows.slice(0, 10), {
      ...await mode.options(),
      workers: 2,
      onProgress: (p) => last = p,
    }));
    assert.equal(flaky.length, 10);
    assert.equal(last!.retriedRecords, 10);
    const batched = await collect(classify<{ batch: number }>(fixture("batched.ts"), rows, {
      ...await mode.options(),
      workers: 2,
      batchRecords: 20,
    }));
    assert.equal(batched.length, 120);
    const started = performance.now();
    await collect(classify(fixture("identity.ts"), rows.slice(0, 20), {
      ...await mode.options(),
      workers: 2,
      rateLimit: { perSecond: 50 },
    }));
    assert.ok(performance.now() - started >= 300); // 20 calls at 50 a second: 0.4 s at least
  });

  test("an input's encoding, its undecodable bytes and a limit read alike", async () => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode("id,text\n1,plain\n2,caf"),
      0xe9,
      ...new TextEncoder().encode("\n3,na"),
      0xef,
      ...new TextEncoder().encode("ve\n4,last\n"),
    ]);
    const path = await tempFile("latin1.csv", bytes);
    const read = (options: Record<string, unknown>) => {
      let last: Progress | undefined;
      return collect(classify<{ text: string }>(fixture("identity.ts"), path, {
        ...options,
        workers: 2,
        ordered: true,
        onProgress: (p) => last = p,
      })).then((rows) => ({ texts: rows.map((r) => r.text), warnings: last?.warnings ?? [] }));
    };
    const latin1 = await read({ ...await mode.options(), encoding: "latin1" });
    assert.deepEqual(latin1.texts, ["plain", "café", "naïve", "last"]);
    assert.deepEqual(latin1.warnings, []);
    const utf8 = await read(await mode.options());
    assert.deepEqual(utf8.texts, ["plain", "caf\uFFFD", "na\uFFFDve", "last"]);
    assert.equal(utf8.warnings.length, 1);
    assert.match(utf8.warnings[0], /2 byte sequences are not valid UTF-8 \(the first on line 3\)/);
    const limited = await read({ ...await mode.options(), encoding: "latin1", limit: 2 });
    assert.deepEqual(limited.texts, ["plain", "café"]);
  });

  test("an input by URL is read by byte range by the workers, as from the file", async () => {
    if (!HAVE_NGINX) return;
    const bytes = new TextEncoder().encode(awkwardCsv(3_000));
    const root = await Deno.makeTempDir();
    await Deno.writeFile(`${root}/data.csv`, bytes);
    const server = await FolderServer.nginx(root);
    try {
      const options = { workers: 2, chunkBytes: 4096, ordered: true, tagged: true };
      const want = await collect(classify(fixture("identity.ts"), `${root}/data.csv`, options));
      let reader: string | undefined;
      const got = await collect(classify(fixture("identity.ts"), server.url("data.csv"), {
        ...await mode.options(),
        ...options,
        onProgress: (p) => reader = p.reader,
      }));
      assert.deepEqual(got, want);
      assert.equal(reader, "workers");
      const ranged = (await server.requests()).filter((r) => r.status === 206);
      assert.ok(ranged.length > 10, `${ranged.length} ranged requests`);
    } finally {
      await server.stop();
    }
  });

  test("a Parquet file, by path and by URL, is read row group by row group as DuckDB reads it", async () => {
    const root = await Deno.makeTempDir();
    const path = `${root}/typed.parquet`;
    await writeParquet(path, typedTable(5_000), { compression: "zstd", rowGroupSize: 2048 });
    const want = await duckRows(path);
    const options = { ...await mode.options(), workers: 2, chunkBytes: 4096, ordered: true };
    const got = await collect(
      classify<Record<string, unknown>>(fixture("identity.ts"), path, options),
    );
    assert.deepEqual(got.map(asDuck), want);
    if (!HAVE_NGINX) return;
    const server = await FolderServer.nginx(root);
    try {
      const url = server.url("typed.parquet");
      const remote = await collect(
        classify<Record<string, unknown>>(fixture("identity.ts"), url, options),
      );
      assert.deepEqual(remote.map(asDuck), want);
      const ranged = (await server.requests()).filter((r) => r.status === 206);
      assert.ok(ranged.length >= 3, `${ranged.length} ranged requests`);
    } finally {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  });

  test("a Parquet document of the results reads back in DuckDB as the NDJSON one does", async () => {
    const path = await tempFile("pq-out.csv", awkwardCsv(3_000));
    const options = { ...await mode.options(), workers: 2, chunkBytes: 4096, ordered: true };
    const pieces = await collect(classify(fixture("identity.ts"), path, {
      ...options,
      encode: "parquet",
    }));
    const out = await tempFile("out.parquet", concat(pieces));
    // The CSV's fields are strings: the columns are strings, read back as they were.
    const want = await collect(classify(fixture("identity.ts"), path, options));
    const back = await duckdb(`SELECT * FROM read_parquet('${out}')`);
    assert.deepEqual(back, want);
  });

  test("the workers write the results as parts, committed once each, in input order", async () => {
    const path = await tempFile("parts.csv", awkwardCsv(3_000));
    const options = { workers: 2, chunkBytes: 4096, ordered: true };
    const want = (await collect(classify(fixture("identity.ts"), path, {
      ...options,
      encode: "ndjson",
    }))).map((b) => new TextDecoder().decode(b)).join("");
    const dir = await Deno.makeTempDir();
    const parts = await collect(classify(fixture("identity.ts"), path, {
      ...await mode.options(),
      ...options,
      outputDir: dir,
    }));
    assert.ok(parts.length > 10, `${parts.length} parts`);
    const text = parts.map((p) => Deno.readTextFileSync(p.path)).join("");
    assert.equal(text, want);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/_SUCCESS`));
    assert.deepEqual(manifest.parts.map((p: { name: string }) => p.name), parts.map((p) => p.name));
    const left = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("."));
    assert.deepEqual(left, []);
    await Deno.remove(dir, { recursive: true });
  });

  test("the run report names each worker that ran tasks, its stages within its busy time", async () => {
    const path = await tempFile("spin.csv", numberedCsv(2_000));
    const results = classify(fixture("spin.ts"), path, {
      ...await mode.options(),
      spec: { us: 200 },
      workers: 2,
      chunkBytes: 4096,
    });
    for await (const _ of results.batches()) { /* drained */ }
    const report = results.report()!;
    assert.equal(report.records, 2_000);
    assert.equal(report.workers.reduce((n, w) => n + w.records, 0), 2_000);
    for (const w of report.workers) {
      assert.match(w.worker, mode.name === "redis" ? /^\S+ worker \d+$/ : /^worker \d+$/);
      const stages = Object.values(w.stages).reduce((a, b) => a + b, 0);
      assert.ok(stages <= w.busyMs + 1, JSON.stringify(w));
      // Where the busy time went is the spinning classifier, whatever carries the tasks.
      assert.ok(w.stages.classifyMs > stages / 2, JSON.stringify(w));
    }
  });

  test("results plus errors equal the records in, each once", async () => {
    const csv = "id,text\n1,a\n2,b\n3\n4,d\n5,e\n6,f\n";
    const path = await tempFile("data.csv", csv);
    const errors: (RecordError | ParseError)[] = [];
    const results = await collect(
      classify<{ id: string }>(policy, path, {
        ...await mode.options(),
        workers: 2,
        spec: { throwOn: ["5"], skip: ["6"] },
        onError: (e) => errors.push(e),
      }),
    );
    assert.deepEqual(results.map((r) => r.id).sort(), ["1", "2", "4"]);
    assert.deepEqual(errors.map((e) => [e.name, e.index, e.line]).sort(), [
      ["ParseError", 2, 4],
      ["RecordError", 4, 6],
    ]);
  });

  test("ordered and tagged results come in input order with their index and line", async () => {
    const path = await tempFile("data.csv", numberedCsv(3000));
    const results = await collect(
      classify<{ id: string }>(policy, path, {
        ...await mode.options(),
        workers: 2,
        chunkBytes: 2048,
        ordered: true,
        tagged: true,
      }),
    );
    assert.equal(results.length, 3000);
    results.forEach((r, i) => {
      assert.equal(r.index, i);
      assert.equal(r.line, i + 2);
      assert.equal(r.result.id, String(i));
    });
  });

  test("encode: the workers' NDJSON, CSV and JSON make whole documents", async () => {
    const path = await tempFile("data.csv", numberedCsv(500));
    const decoder = new TextDecoder();
    const text = async (encode: "ndjson" | "csv" | "json") =>
      (await collect(classify<Uint8Array>(policy, path, {
        ...await mode.options(),
        workers: 2,
        chunkBytes: 1024,
        ordered: true,
        encode,
      }))).map((b) => decoder.decode(b)).join("");
    const ids = Array.from({ length: 500 }, (_, i) => String(i));
    assert.equal(await text("ndjson"), ids.map((id) => `{"id":"${id}"}\n`).join(""));
    assert.equal(await text("csv"), "id\n" + ids.map((id) => `${id}\n`).join(""));
    assert.deepEqual(JSON.parse(await text("json")), ids.map((id) => ({ id })));
  });

  test("encode: a result that cannot be written is a RecordError; the others keep their index", async () => {
    const path = await tempFile("data.csv", numberedCsv(300));
    const errors: RecordError[] = [];
    const bytes = await collect(classify<Uint8Array>(fixture("shapes.ts"), path, {
      ...await mode.options(),
      workers: 2,
      chunkBytes: 512,
      ordered: true,
      tagged: true,
      encode: "csv",
      onError: (e) => errors.push(e as RecordError),
    }));
    const lines = bytes.map((b) => new TextDecoder().decode(b)).join("").trim().split("\n");
    assert.equal(lines[0], "index,line,id");
    assert.deepEqual(errors.map((e) => e.index), [7, 107, 207]);
    assert.match(errors[0].message, /cannot be written as csv: result has key "extra"/);
    const indices = lines.slice(1).map((l) => Number(l.split(",")[0]));
    assert.deepEqual(
      indices,
      Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 100 !== 7),
    );
    for (const l of lines.slice(1)) {
      const [index, line, id] = l.split(",");
      assert.equal(Number(line), Number(index) + 2);
      assert.equal(id, index);
    }
  });

  test("an error escaping a timer kills the worker; its chunk is re-run and nothing is lost", async () => {
    const path = await tempFile("data.csv", numberedCsv(20_000));
    let progress: Progress | undefined;
    const results = await collect(classify(crash, path, {
      ...await mode.options(),
      workers: 2,
      chunkBytes: 16 * 1024,
      spec: { how: "timer", at: "9000" },
      onProgress: (p) => progress = p,
    }));
    assert.equal(results.length, 20_000);
    assert.equal(new Set(results).size, 20_000);
    assert.ok(progress!.respawns >= 1);
  });

  test("a record that kills its worker is isolated as a RecordError with a WorkerCrashError cause", async () => {
    const path = await tempFile("data.csv", numberedCsv(4000));
    const errors: RecordError[] = [];
    const results = await deadline(
      collect(classify(crash, path, {
        ...await mode.options(),
        workers: 2,
        chunkBytes: 8 * 1024,
        spec: { how: "exit", at: "2345" },
        onError: (e) => errors.push(e as RecordError),
      })),
      60_000,
    );
    assert.equal(results.length, 3999);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof RecordError);
    assert.equal(errors[0].index, 2345);
    assert.equal(errors[0].cause.name, "WorkerCrashError");
  });

  test("maxRespawns: a classifier that dies on every record gives up with a clear error", async () => {
    const path = await tempFile("data.csv", numberedCsv(200));
    await assert.rejects(
      collect(classify(crash, path, {
        ...await mode.options(),
        workers: 2,
        spec: { how: "exit", at: "*" },
        maxRespawns: 3,
      })),
      (error) =>
        error instanceof WorkerCrashError &&
        /workers died 4 times in a row without finishing a record.*maxRespawns: 3/.test(
          error.message,
        ),
    );
  });

  test("a record that hangs past the timeout is isolated, and the command exits", async () => {
    const path = await tempFile("data.csv", numberedCsv(300));
    const r = await runCrunch([
      ...await mode.flags(),
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
    assert.equal(r.stdout.trim().split("\n").length, 299);
    assert.match(r.stderr, /300 records in, 299 results out, 1 error\b/);
    assert.ok(r.seconds < 40, `${r.seconds} s`);
  });

  test("breaking out early stops every worker, and the process exits at once", async () => {
    const data = await tempFile("data.csv", numberedCsv(100_000));
    const script = await tempFile(
      "early.ts",
      `import { classify } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
let n = 0;
for await (const _ of classify(${JSON.stringify(fixture("slow.ts").href)}, ${
        JSON.stringify(data)
      }, { ...${JSON.stringify(await mode.options())}, workers: 2, spec: { ms: 2 } })) {
  if (++n === 3) break;
}
console.log("got", n);`,
    );
    const r = await runDeno(["run", "-A", script]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /got 3/);
    assert.ok(r.seconds < 10, `${r.seconds} s`);
  });

  test("a plug-in whose deno.json maps its imports runs, with prepare()'s SharedTable", async () => {
    // Under the repository (where the fleet's workers allow modules), in a folder of its own.
    const { plugin, data } = await pluginFolder(
      new URL("../.cache/contract/", import.meta.url).pathname,
    );
    const run = await runCrunch([...await mode.flags(), "--ordered", plugin, data]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n").map((l) => JSON.parse(l)), expected);
  });

  test("a spec that cannot cross to a worker as it is fails before any worker starts", () => {
    class Model {
      predict() {
        return 1;
      }
    }
    for (const spec of [{ model: new Model() }, { f: () => 1 }]) {
      assert.throws(
        () => classify(fixture("identity.ts"), [{ id: "1" }], { ...mode.sync(), spec }),
        (e) => e instanceof CrunchError && /spec\.(model|f) is/.test(e.message),
      );
    }
  });

  test("a Pool goes on after a crash, with a fresh worker that ran init", async () => {
    await using pool = await Pool.start(crash, {
      ...await mode.options(),
      workers: 2,
      spec: { how: "exit", at: "7" },
    });
    const rows = Array.from({ length: 50 }, (_, i) => ({ id: String(i) }));
    const errors: unknown[] = [];
    const first = await collect(
      pool.classify(rows, { onError: (e) => errors.push(e), batchSize: 10 }),
    );
    assert.equal(first.length, 49);
    assert.equal((errors[0] as RecordError).index, 7);
    assert.equal((await collect(pool.classify(rows.slice(10)))).length, 40);
  });
}

if (HAVE_REDIS) {
  Deno.test({
    name: "[redis] the fleet the contract ran on stops cleanly",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      if (fleet.started === undefined) return;
      const { server, workers } = await fleet.started;
      for (const worker of workers) assert.equal((await worker.stop()).code, 0);
      await server.stop();
    },
  });
}

Deno.test("[process] each worker is a process of its own", async () => {
  const path = await tempFile("data.csv", numberedCsv(2000));
  const pids = new Set(
    await collect(classify<number>(fixture("pid.ts"), path, {
      isolation: "process",
      workers: 2,
      chunkBytes: 1024,
    })),
  );
  assert.ok(pids.size >= 1 && pids.size <= 2, `${[...pids]}`);
  assert.ok(!pids.has(Deno.pid));
});

Deno.test("[process] a record that exhausts its worker's memory is isolated; the run completes", async () => {
  const path = await tempFile("data.csv", numberedCsv(3000));
  const errors: RecordError[] = [];
  const results = await deadline(
    collect(classify(fixture("oom.ts"), path, {
      isolation: "process",
      workers: 2,
      maxWorkerMemory: 64,
      chunkBytes: 4096,
      spec: { at: "1234" },
      onError: (e) => errors.push(e as RecordError),
    })),
    120_000,
  );
  assert.equal(results.length, 2999);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].index, 1234);
  assert.equal(errors[0].cause.name, "WorkerCrashError");
  assert.match(errors[0].message, /ran out of memory \(maxWorkerMemory: 64 MB\)/);
});

Deno.test("isolation and maxWorkerMemory are checked", async () => {
  const path = await tempFile("data.csv", numberedCsv(2));
  // deno-lint-ignore no-explicit-any
  const bad = { isolation: "fork" as any };
  // Checked when classify() is called, before anything starts.
  assert.throws(
    () => classify(policy, path, bad),
    /option isolation must be "thread" or "process"/,
  );
  assert.throws(
    () => classify(policy, path, { maxWorkerMemory: 0 }),
    /option maxWorkerMemory must be a positive integer/,
  );
});
