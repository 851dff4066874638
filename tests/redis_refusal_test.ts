/**
 * A `crunch worker`'s refusal is its own, not the run's: the run waits
 * (saying so, with each worker's reason) for a worker that accepts it, tasks
 * a worker refused after claiming them go to another, and a run no worker
 * accepts within `waitForWorkers` fails listing every reason.
 */
import assert from "node:assert/strict";
import { classify, type Progress } from "../mod.ts";
import { collect, deadline, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";
import { HAVE_REDIS, RedisServer, WorkerProcess } from "./redis_harness.ts";

const opts = { ignore: !HAVE_REDIS, sanitizeOps: false, sanitizeResources: false };
const range = (n: number) => Array.from({ length: n }, (_, i) => String(i));

/** Starts a worker named `name` and waits until its heartbeat is in Redis. */
async function worker(server: RedisServer, name: string, args: string[]): Promise<WorkerProcess> {
  const process = new WorkerProcess(server.url(), name, ["--heartbeat", "1000", ...args]);
  const client = await server.client();
  try {
    const end = performance.now() + 30_000;
    while (((await client.command("KEYS", `crunch:worker:${name}#*`)) as []).length === 0) {
      if (performance.now() > end) throw new Error(`${name} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
  return process;
}

/** Runs `body` with a fresh server, stopping it and every worker `body` started. */
async function withServer(
  body: (server: RedisServer, started: WorkerProcess[]) => Promise<void>,
): Promise<string[]> {
  const server = await RedisServer.start();
  const started: WorkerProcess[] = [];
  let logs: { log: string }[] = [];
  try {
    await deadline(body(server, started), 90_000);
  } finally {
    logs = await Promise.all(started.map((w) => w.stop("SIGKILL")));
    await server.stop();
  }
  return logs.map((l) => l.log);
}

/** A promise of the first progress report whose `waiting` matches `pattern`, and its listener. */
function waitingFor(pattern: RegExp) {
  let seen!: (text: string) => void;
  const reached = new Promise<string>((resolve) => seen = resolve);
  const onProgress = (p: Progress) => {
    if (p.waiting !== undefined && pattern.test(p.waiting)) seen(p.waiting);
  };
  return { reached, onProgress };
}

Deno.test("redis: a worker that refuses a run leaves it to one that accepts it", opts, async () => {
  const path = await tempFile("data.csv", numberedCsv(500));
  const logs = await withServer(async (server, started) => {
    started.push(await worker(server, "strict", ["--allow-module", "/nowhere/"]));
    const { reached, onProgress } = waitingFor(/strict refused the run/);
    const run = collect(classify(fixture("identity.ts"), path, {
      redis: server.url(),
      ordered: true,
      onProgress,
    }));
    run.catch(() => {});
    const waiting = await reached;
    assert.match(
      waiting,
      /^waiting for a crunch worker that accepts the run: crunch worker strict refused the run: the module .*identity\.ts is not under an allowed prefix.*; the run fails if none does within 60 s$/,
    );
    started.push(await worker(server, "open", []));
    const results = await run;
    assert.deepEqual(results.map((r) => (r as { id: string }).id), range(500));
  });
  assert.match(logs[0], /refused run/);
  assert.match(logs[1], /run \S+: taking tasks/);
});

Deno.test(
  "redis: tasks a worker refused after claiming them go to another, each record once",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "crunch-refusal-" });
    const path = `${dir}/data.csv`;
    await Deno.writeTextFile(path, numberedCsv(3000));
    await withServer(async (server, started) => {
      // This worker claims tasks, finds their file outside its --allow-input, and gives them back.
      started.push(await worker(server, "narrow", ["--allow-input", "/nowhere/"]));
      const { reached, onProgress } = waitingFor(/narrow refused the run: the input/);
      const run = collect(classify(fixture("identity.ts"), path, {
        redis: server.url(),
        ordered: true,
        chunkBytes: 2048,
        onProgress,
      }));
      run.catch(() => {});
      await reached;
      started.push(await worker(server, "wide", []));
      const results = await run;
      assert.deepEqual(results.map((r) => (r as { id: string }).id), range(3000));
    });
  },
);

Deno.test(
  "redis: the command says what it waits for and fails listing each worker's reason",
  opts,
  async () => {
    const path = await tempFile("data.csv", numberedCsv(50));
    await withServer(async (server, started) => {
      const none = await runCrunch([
        "--redis",
        server.url(),
        "--wait-for-workers",
        "1.5",
        fixture("identity.ts").pathname,
        path,
      ]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /crunch: waiting for a crunch worker: none is serving redis:/);
      assert.match(none.stderr, /error: no crunch worker is serving redis:.* \(waited \d+ s\)/);
      started.push(await worker(server, "strict", ["--allow-module", "/nowhere/"]));
      started.push(await worker(server, "stricter", ["--allow-module", "/elsewhere/"]));
      const refused = await runCrunch([
        "--redis",
        server.url(),
        "--wait-for-workers",
        "3",
        fixture("identity.ts").pathname,
        path,
      ]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /crunch: waiting for a crunch worker that accepts the run: crunch worker strict(er)? refused/,
      );
      const error = refused.stderr.split("\n").find((l) => l.startsWith("crunch: error:"))!;
      assert.match(error, /no crunch worker at redis:.* accepts the run \(waited \d+ s\)/);
      assert.match(
        error,
        /crunch worker strict refused the run: the module .*\(file:\/\/\/nowhere\/\)/,
      );
      assert.match(
        error,
        /crunch worker stricter refused the run: the module .*\(file:\/\/\/elsewhere\/\)/,
      );
      const misplaced = await runCrunch([
        "--wait-for-workers",
        "3",
        fixture("identity.ts").pathname,
        path,
      ]);
      assert.equal(misplaced.code, 2);
      assert.match(misplaced.stderr, /--wait-for-workers is a setting of --redis/);
    });
  },
);

Deno.test(
  "redis: what a run asks that a worker cannot do is refused for that run; the worker goes on",
  opts,
  async () => {
    const path = await tempFile("data.csv", numberedCsv(30));
    const logs = await withServer(async (server, started) => {
      started.push(await worker(server, "w0", ["--isolation", "process"]));
      // prepare() returns what cannot be sent: the worker refuses this run, and only this run.
      const bad = await collect(classify(fixture("shared.ts"), [1, 2, 3], {
        redis: { url: server.url(), waitForWorkers: 2000 },
        spec: { mode: "function" },
      })).then(() => undefined, (e) => e as Error);
      assert.ok(bad !== undefined, "the run should have failed");
      assert.match(
        bad.message,
        /no crunch worker at .* accepts the run .*crunch worker w0 refused the run: prepare\(\) of .*shared\.ts returned a value that cannot be sent/,
      );
      const good = await collect(classify(fixture("identity.ts"), path, {
        redis: server.url(),
        ordered: true,
      }));
      assert.deepEqual(good.map((r) => (r as { id: string }).id), range(30));
    });
    assert.match(logs[0], /refused run/);
    assert.doesNotMatch(logs[0], /uncaught|panicked/i);
  },
);
