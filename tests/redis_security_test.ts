/**
 * What whoever can write to Redis cannot make a `crunch worker` do: read a
 * file through a forged range task (a range without the file's identity,
 * or outside --allow-input, is refused), or run anything at all when the
 * workers hold a run key and the run is not signed with it. And the Redis
 * URL, password included, need not be on a command line.
 */
import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { classify } from "../mod.ts";
import { encodeFrames } from "../lib/wire/frames.ts";
import { GROUP, keys, listArgs, moduleHash, type RunMeta } from "../lib/backends/redis/wire.ts";
import { text } from "../lib/backends/redis/client.ts";
import { collect, deadline, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";
import { HAVE_REDIS, RedisServer, startWorkers, type WorkerProcess } from "./redis_harness.ts";
import { ObjectServer } from "./http_harness.ts";

const opts = { ignore: !HAVE_REDIS, sanitizeOps: false, sanitizeResources: false };
const KEY = "a shared key of the fleet, 32+ chars";

async function withRedis(
  body: (server: RedisServer, workers: WorkerProcess[]) => Promise<void>,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<void> {
  const server = await RedisServer.start();
  let workers: WorkerProcess[] = [];
  try {
    workers = await startWorkers(server, 1, args, "", env);
    await deadline(body(server, workers), 60_000);
  } finally {
    await Promise.all(workers.map((w) => w.stop("SIGKILL")));
    await server.stop();
  }
}

/** Publishes a run by hand, as a forger who can write to Redis would; returns its id. */
async function forge(server: RedisServer, tasks: unknown[]): Promise<string> {
  const module = fixture("identity.ts").href;
  const meta: RunMeta = {
    module,
    hash: await moduleHash(module),
    settings: { format: "csv", columns: ["a", "b"], tagged: false, stopOnError: false },
    limits: {},
    coordinator: "forger",
  };
  const id = `forged-${crypto.randomUUID().slice(0, 8)}`;
  const client = await server.client();
  try {
    await client.command(
      "HSET",
      keys.run(id),
      "meta",
      JSON.stringify(meta),
      "spec",
      serialize(null),
    );
    await client.command("XGROUP", "CREATE", keys.tasks(id), GROUP, "$", "MKSTREAM");
    await client.command(...listArgs(id, 60));
    for (const [tid, task] of tasks.entries()) {
      const frame = encodeFrames([{ type: "task", run: 0, task } as never]);
      await client.command("XADD", keys.tasks(id), "*", "tid", tid + 1, "frame", frame);
    }
  } finally {
    client.close();
  }
  return id;
}

/**
 * The result entries of run `id` (kind, and error or tids), once one other
 * than tasks given back unstarted ("returned") is there.
 */
async function outcomes(server: RedisServer, id: string): Promise<string[]> {
  const client = await server.client();
  try {
    for (;;) {
      const reply = await client.command("XRANGE", keys.results(id), "-", "+") as unknown[][];
      const got = reply.map((entry) => {
        const fields = (entry[1] as Uint8Array[]).map((f) => text(f)!);
        const kind = fields[fields.indexOf("kind") + 1];
        const what = kind === "returned" ? "tids" : "error";
        return `${kind}: ${fields[fields.indexOf(what) + 1]}`;
      });
      if (got.some((g) => !g.startsWith("returned"))) return got;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.close();
  }
}

Deno.test(
  "redis: a forged range without the file's identity is refused, nothing of the file read",
  opts,
  async () => {
    const secret = await tempFile("secret.csv", "a,b\nthe,secret\n");
    await withRedis(async (server) => {
      const body = {
        kind: "range",
        path: secret,
        offset: 0,
        end: 15,
        exact: true,
        maxRecordBytes: 1e6,
      };
      const id = await forge(server, [{ id: 1, body }]);
      const got = await outcomes(server, id);
      // The task is given back unstarted (another worker may hold the identity check's answer),
      // and the run refused by this worker.
      assert.deepEqual(got.filter((g) => g.startsWith("returned")), ["returned: 1"]);
      const refused = got.filter((g) => g.startsWith("refused"));
      assert.equal(refused.length, 1);
      assert.match(
        refused[0],
        /^refused: a range of .*secret\.csv came without the file's identity/,
      );
    });
  },
);

Deno.test(
  "redis: --allow-input confines the files a worker reads; every task is checked",
  opts,
  async () => {
    const allowed = await Deno.makeTempDir();
    const data = `${allowed}/data.csv`;
    await Deno.writeTextFile(data, numberedCsv(300));
    const outside = await tempFile("outside.csv", numberedCsv(300));
    await withRedis(async (server) => {
      const ok = await collect(classify(fixture("identity.ts"), data, {
        redis: server.url(),
        workers: 2,
      }));
      assert.equal(ok.length, 300);
      await assert.rejects(
        collect(classify(fixture("identity.ts"), outside, {
          redis: { url: server.url(), waitForWorkers: 2000 },
          workers: 2,
        })),
        /no crunch worker at .* accepts the run \(waited \d+ s\): crunch worker \S+ refused the run: the input .*outside\.csv is not under an allowed input prefix/,
      );
    }, ["--allow-input", allowed]);
  },
);

Deno.test("redis: workers that hold a run key run only runs signed with it", opts, async () => {
  const path = await tempFile("data.csv", numberedCsv(200));
  await withRedis(
    async (server) => {
      await assert.rejects(
        collect(classify(fixture("identity.ts"), path, {
          redis: { url: server.url(), waitForWorkers: 2000 },
          workers: 2,
        })),
        /refused the run: the run is not signed/,
      );
      await assert.rejects(
        collect(classify(fixture("identity.ts"), path, {
          redis: {
            url: server.url(),
            key: "another key, 32 characters long",
            waitForWorkers: 2000,
          },
          workers: 2,
        })),
        /refused the run: the run's signature does not match/,
      );
      const signed = await collect(classify(fixture("identity.ts"), path, {
        redis: { url: server.url(), key: KEY },
        workers: 2,
        ordered: true,
      }));
      assert.equal(signed.length, 200);
    },
    [],
    { CRUNCH_REDIS_KEY: KEY },
  );
});

Deno.test(
  "redis: the URL and its password can come from a file or the environment",
  opts,
  async () => {
    const path = await tempFile("data.csv", numberedCsv(50));
    const server = await RedisServer.start(["--requirepass", "s3cret"]);
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/redis-url`, server.url(":s3cret@") + "\n");
    let workers: WorkerProcess[] = [];
    try {
      workers = await startWorkers(server, 1, [], ":s3cret@");
      const r = await runCrunch([
        "--redis",
        `@${dir}/redis-url`,
        fixture("identity.ts").pathname,
        path,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split("\n").length, 50);
      assert.doesNotMatch(r.stderr, /s3cret/);
      const missing = await runCrunch([
        "--redis",
        "env:NO_SUCH_VARIABLE",
        fixture("identity.ts").pathname,
        path,
      ]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /--redis: the environment has no NO_SUCH_VARIABLE/);
    } finally {
      await Promise.all(workers.map((w) => w.stop("SIGKILL")));
      await server.stop();
    }
  },
);

Deno.test(
  "redis: --allow-input confines the URLs a worker reads; its own --header reaches the server, the coordinator's never goes into Redis",
  opts,
  async () => {
    const bytes = new TextEncoder().encode(numberedCsv(300));
    const server = ObjectServer.start(bytes, "Bearer worker-token");
    try {
      await withRedis(async (redis) => {
        const ok = await collect(classify(fixture("identity.ts"), server.url("ok/data.csv"), {
          redis: redis.url(),
          workers: 2,
          // The coordinator reads the head with its own header; the workers use theirs.
          headers: { Authorization: "Bearer worker-token" },
        }));
        assert.equal(ok.length, 300);
        const client = await redis.client();
        try {
          const keys = await client.command("KEYS", "*") as Uint8Array[];
          for (const key of keys) {
            const dump = await client.command("DUMP", text(key)!) as Uint8Array | null;
            assert.ok(!text(dump ?? new Uint8Array())?.includes("worker-token"), text(key));
          }
        } finally {
          client.close();
        }
        await assert.rejects(
          collect(classify(fixture("identity.ts"), server.url("no/data.csv"), {
            redis: { url: redis.url(), waitForWorkers: 2000 },
            workers: 2,
            headers: { Authorization: "Bearer worker-token" },
          })),
          /refused the run: the input http:\/\/127\.0\.0\.1:\d+\/no\/data\.csv is not under an allowed input prefix \(http:\/\/127\.0\.0\.1:\d+\/ok\/\)/,
        );
      }, [
        "--allow-input",
        server.url("ok/"),
        "--header",
        "Authorization: Bearer worker-token",
      ]);
    } finally {
      await server.stop();
    }
  },
);
