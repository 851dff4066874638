/**
 * The Redis backend against a real redis-server and real `crunch worker`
 * processes: results, worker deaths, a poison record, Redis restarted,
 * backpressure, passwords, the allow-list and the module check.
 */

import assert from "node:assert/strict";
import { classify, CrunchError, type Progress, type RecordError } from "../mod.ts";
import { keys, recordArgs } from "../lib/backends/redis/wire.ts";
import { RedisConnectionError, text } from "../lib/backends/redis/client.ts";
import { collect, deadline, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";
import { HAVE_REDIS, RedisServer, startWorkers, type WorkerProcess } from "./redis_harness.ts";

const ignore = !HAVE_REDIS;
const assertEquals = (actual: unknown, expected: unknown, message?: string) =>
  assert.deepEqual(actual, expected, message);
const assertMatch = (actual: string, pattern: RegExp) => assert.match(actual, pattern);

/** The error `fn` rejects with, checked to be a `type`. */
async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof type, `rejected with ${error}`);
    return error as E;
  }
  throw new assert.AssertionError({ message: "did not reject" });
}
const opts = { ignore, sanitizeOps: false, sanitizeResources: false };

/** Runs `body` with a fresh server and `count` workers, stopping all of them after. */
async function withRedis(
  count: number,
  body: (server: RedisServer, workers: WorkerProcess[]) => Promise<void>,
  serverArgs: string[] = [],
  workerArgs: string[] = [],
  auth = "",
): Promise<void> {
  const server = await RedisServer.start(serverArgs);
  let workers: WorkerProcess[] = [];
  try {
    workers = await startWorkers(server, count, workerArgs, auth);
    // A hang fails the test (and the workers and server are stopped) instead of stalling the suite.
    await deadline(body(server, workers), 90_000);
  } finally {
    await Promise.all(workers.map((w) => w.stop("SIGKILL")));
    await server.stop();
  }
}

/** Waits (up to about 4 s) until a consumer whose name starts with `prefix` holds tasks. */
async function untilHolding(
  client: Awaited<ReturnType<RedisServer["client"]>>,
  prefix: string,
): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const pending = await client.command("KEYS", "crunch:run:*:tasks");
    const stream = text((pending as Uint8Array[])[0] ?? "");
    if (stream) {
      const summary = await client.command("XPENDING", stream, "workers") as unknown[];
      const owners = (summary[3] as unknown[][] | null) ?? [];
      if (owners.some((o) => text(o[0] as Uint8Array)!.startsWith(prefix))) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function ids(results: unknown[]): string[] {
  return results.map((r) => (r as { id: string }).id);
}

function range(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}

Deno.test(
  "redis: the same results as local workers, from byte ranges and through Redis",
  opts,
  async () => {
    const path = await tempFile("data.csv", numberedCsv(3000, (i) => `"text, ${i}"`));
    await withRedis(2, async (server) => {
      const local = await collect(classify(fixture("identity.ts"), path, { ordered: true }));
      for (const reader of ["workers", "main"] as const) {
        const remote = await collect(
          classify(fixture("identity.ts"), path, {
            redis: server.url(),
            ordered: true,
            reader,
            chunkBytes: 4096,
          }),
        );
        assertEquals(remote, local, `reader ${reader}`);
      }
      // Unordered, every record once.
      const unordered = await collect(
        classify(fixture("identity.ts"), path, { redis: server.url(), chunkBytes: 2048 }),
      );
      assertEquals(ids(unordered).sort(), range(3000).sort());
      // Nothing of the runs is left in Redis.
      const client = await server.client();
      const left = await client.command("KEYS", "crunch:run:*");
      client.close();
      assertEquals(left, []);
    });
  },
);

Deno.test("redis: a worker process killed with SIGKILL mid-run loses nothing", opts, async () => {
  const path = await tempFile("data.csv", numberedCsv(600));
  await withRedis(3, async (server, workers) => {
    const client = await server.client();
    let last: Progress | undefined;
    const run = collect(
      classify(fixture("slow.ts"), path, {
        redis: server.url(),
        spec: { ms: 4 },
        ordered: true,
        chunkBytes: 128,
        // The reaper's way is what this tests: a copy raced on an idle worker could finish the
        // dead worker's tasks first (speculation_test.ts tests that way).
        speculate: false,
        onProgress: (p) => last = p,
      }),
    );
    // Kill w0 once it holds tasks.
    await untilHolding(client, "w0#");
    workers[0].kill("SIGKILL");
    const results = await run;
    client.close();
    assertEquals(ids(results), range(600));
    // The tasks w0 held were given up on and run again.
    assert.ok(last!.respawns >= 1, `respawns: ${last!.respawns}`);
  });
});

Deno.test(
  "redis: a crunch worker frozen with SIGSTOP mid-run holds nothing up for good",
  opts,
  async () => {
    const path = await tempFile("data.csv", numberedCsv(600));
    await withRedis(2, async (server, workers) => {
      const client = await server.client();
      let last: Progress | undefined;
      const results = classify(fixture("slow.ts"), path, {
        redis: server.url(),
        spec: { ms: 4 },
        ordered: true,
        chunkBytes: 128,
        onProgress: (p) => last = p,
      });
      const run = collect(results);
      // Freeze w0 once it holds tasks: alive (its connection open), but doing nothing.
      await untilHolding(client, "w0#");
      workers[0].kill("SIGSTOP");
      try {
        assertEquals(ids(await run), range(600));
        // What w0 held was done by w1: raced by copies, or given up on by the reaper.
        const report = results.report()!;
        assert.ok(
          report.speculationsWon + last!.respawns + last!.retries >= 1,
          JSON.stringify({ report, last }),
        );
      } finally {
        workers[0].kill("SIGCONT");
        client.close();
      }
    });
  },
);

Deno.test(
  "redis: a poison record that kills its worker is isolated, the run goes on",
  opts,
  async () => {
    const path = await tempFile("data.csv", numberedCsv(100));
    await withRedis(2, async (server) => {
      const errors: RecordError[] = [];
      const results = await collect(
        classify(fixture("crash.ts"), path, {
          redis: server.url(),
          spec: { how: "exit", at: "50" },
          ordered: true,
          chunkBytes: 256,
          onError: (error) => errors.push(error as RecordError),
        }),
      );
      assertEquals(results, range(100).filter((id) => id !== "50"));
      assertEquals(errors.length, 1);
      assertEquals(errors[0].index, 50);
      assertMatch(
        errors[0].message,
        /died while classifying this record.*Deno\.exit\(3\).*crunch worker w\d/,
      );
    });
  },
);

Deno.test("redis: the record script accepts a task's outcome once", opts, async () => {
  const server = await RedisServer.start();
  const client = await server.client();
  try {
    const run = "t1";
    const tasks = keys.tasks(run);
    const results = keys.results(run);
    await client.command("XGROUP", "CREATE", tasks, "workers", "$", "MKSTREAM");
    const a = text(await client.command("XADD", tasks, "*", "tid", 1))!;
    const b = text(await client.command("XADD", tasks, "*", "tid", 2))!;
    await client.command("XREADGROUP", "GROUP", "workers", "w0", "COUNT", 2, "STREAMS", tasks, ">");
    // The worker records task 1: written once; a second (late duplicate) write is dropped.
    const first = await client.command(...recordArgs(run, [{ id: a, tid: 1 }], ["kind", "done"]));
    const again = await client.command(...recordArgs(run, [{ id: a, tid: 1 }], ["kind", "done"]));
    assertEquals([text(first), text(again)], ["1", ""]);
    // The coordinator gives task 2 up first: the worker's late outcome writes nothing.
    const given = await client.command(...recordArgs(run, [{ id: b, tid: 2 }]));
    const late = await client.command(...recordArgs(run, [{ id: b, tid: 2 }], ["kind", "done"]));
    assertEquals([text(given), text(late)], ["2", ""]);
    assertEquals(await client.command("XLEN", results), 1);
    assertEquals(await client.command("XLEN", tasks), 0);
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test(
  "redis: Redis restarted without its data mid-run: nothing lost or duplicated",
  opts,
  async () => {
    const path = await tempFile("data.csv", numberedCsv(800));
    await withRedis(2, async (server) => {
      const run = collect(
        classify(fixture("slow.ts"), path, {
          redis: { url: server.url(), reconnectTimeout: 20_000 },
          spec: { ms: 3 },
          ordered: true,
          chunkBytes: 128,
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 700));
      await server.kill();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await server.restart();
      const results = await run;
      assertEquals(ids(results), range(800));
    });
  },
);

Deno.test("redis: the task stream stays under the high-water mark", opts, async () => {
  // Records through Redis, as for a file only the coordinator has.
  const path = await tempFile("data.csv", numberedCsv(20_000, (i) => "x".repeat(40 + (i % 7))));
  await withRedis(2, async (server) => {
    const client = await server.client();
    let most = 0;
    let done = false;
    const run = collect(
      classify(fixture("identity.ts"), path, {
        redis: { url: server.url(), highWater: 3 },
        reader: "main",
        chunkBytes: 8192,
      }),
    ).finally(() => done = true);
    while (!done) {
      const streams = await client.command("KEYS", "crunch:run:*:tasks") as Uint8Array[];
      for (const s of streams) most = Math.max(most, Number(await client.command("XLEN", s)));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assertEquals((await run).length, 20_000);
    client.close();
    assert.ok(most <= 3, `the task stream held ${most} tasks`);
    assert.ok(most >= 1, "the task stream was never seen holding a task");
  });
});

Deno.test("redis: a password, a wrong one, and a module outside the allow-list", opts, async () => {
  const path = await tempFile("data.csv", numberedCsv(50));
  await withRedis(
    1,
    async (server) => {
      const results = await collect(
        classify(fixture("identity.ts"), path, { redis: server.url(":s3cret@"), ordered: true }),
      );
      assertEquals(ids(results), range(50));
      const wrong = await assertRejects(
        () => collect(classify(fixture("identity.ts"), path, { redis: server.url(":nope@") })),
        RedisConnectionError,
      );
      assertMatch(wrong.message, /refused the login: WRONGPASS/);
      assert.ok(!wrong.message.includes("nope"), "the password is not in the message");
      // examples/ is not under the worker's --allow-module prefix.
      const refused = await assertRejects(
        () =>
          collect(
            classify(new URL("../examples/hits.ts", import.meta.url), path, {
              redis: { url: server.url(":s3cret@"), waitForWorkers: 2000 },
              spec: { words: ["row"] },
            }),
          ),
        CrunchError,
      );
      assertMatch(
        refused.message,
        /crunch worker w0 refused the run: the module .*hits\.ts is not under an allowed prefix/,
      );
    },
    ["--requirepass", "s3cret"],
    ["--allow-module", "tests/fixtures/"],
    ":s3cret@",
  );
});

Deno.test("redis: a worker refuses a module that is not the coordinator's", opts, async () => {
  const dir = await Deno.makeTempDir({ prefix: "crunch-redis-" });
  const module = `${dir}/plugin.ts`;
  await Deno.writeTextFile(module, "export function classify(row: unknown) { return row; }\n");
  const path = await tempFile("data.csv", numberedCsv(20));
  const server = await RedisServer.start();
  const client = await server.client();
  let workers: WorkerProcess[] = [];
  try {
    const run = collect(
      classify(module, path, { redis: { url: server.url(), waitForWorkers: 2000 } }),
    );
    run.catch(() => {});
    // Once the run is in Redis, the file changes: the worker reads what the coordinator did not.
    for (
      let i = 0;
      ((await client.command("ZRANGE", "crunch:runlist", 0, -1)) as []).length === 0;
      i++
    ) {
      if (i > 1000) throw new Error("the run was never listed");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Deno.writeTextFile(module, "export function classify(row: unknown) { return 1; }\n");
    workers = await startWorkers(server, 1, ["--allow-module", dir]);
    const error = await assertRejects(() => run, CrunchError);
    assertMatch(
      error.message,
      /refused the run: the module .*plugin\.ts here is not the coordinator's \(sha256/,
    );
  } finally {
    client.close();
    await Promise.all(workers.map((w) => w.stop("SIGKILL")));
    await server.stop();
  }
});

Deno.test("redis: with no worker the run fails, saying what to start", opts, async () => {
  const path = await tempFile("data.csv", numberedCsv(20));
  const server = await RedisServer.start();
  try {
    const error = await assertRejects(
      () =>
        collect(classify(fixture("identity.ts"), path, {
          redis: { url: server.url(), waitForWorkers: 1500 },
        })),
      CrunchError,
    );
    assertMatch(
      error.message,
      /no crunch worker is serving redis:\/\/127\.0\.0\.1:\d+\/? \(waited \d+ s\): start one with `crunch worker --redis/,
    );
  } finally {
    await server.stop();
  }
});

Deno.test(
  "redis: the command, a worker stopped with SIGTERM, and a killed coordinator resumed",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "crunch-redis-" });
    const input = `${dir}/data.csv`;
    await Deno.writeTextFile(input, numberedCsv(1500));
    await withRedis(2, async (server, workers) => {
      const out = `${dir}/out.ndjson`;
      const args = [
        "--redis",
        server.url(),
        "--ordered",
        "--chunk-bytes",
        "512",
        "-s",
        '{"ms": 2}',
        "-o",
        out,
        "--resume",
        fixture("slow.ts").pathname,
        input,
      ];
      // A coordinator killed mid-run: the same command goes on from its journal.
      const first = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../lib/cli/main.ts", import.meta.url).pathname, ...args],
        stdout: "null",
        stderr: "null",
      }).spawn();
      // Killed once the journal holds a point (the run is under way), before it completes.
      const journal = `${out}.crunch-journal`;
      for (let i = 0;; i++) {
        const text = await Deno.readTextFile(journal).catch(() => "");
        if (/"kind":"point"/.test(text)) break;
        if (i > 3000) throw new Error("the first coordinator never journaled a point");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      first.kill("SIGKILL");
      await first.status;
      // A worker asked to stop finishes what it holds and leaves with 0.
      const stopped = workers[1].stop("SIGTERM");
      const second = await runCrunch(args);
      assertEquals(second.code, 0, second.stderr);
      assertMatch(
        second.stderr,
        /through redis:\/\/127\.0\.0\.1:\d+\/?: the workers read the file's byte ranges themselves/,
      );
      const lines = (await Deno.readTextFile(out)).trim().split("\n").map((l) => JSON.parse(l));
      assertEquals(ids(lines), range(1500));
      const { code, log } = await stopped;
      assertEquals(code, 0, log);
      assertMatch(log, /w1 stopped/);
    });
  },
);
