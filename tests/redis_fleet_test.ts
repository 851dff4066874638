/**
 * The fleet through Redis on its bad days: a worker restarted under the same
 * name, the run's keys lost and Redis flushed mid-run, Redis out of memory,
 * and Redis over TLS with a private certificate authority.
 */
import assert from "node:assert/strict";
import { classify } from "../mod.ts";
import { text } from "../lib/backends/redis/client.ts";
import { collect, deadline, fixture, numberedCsv, runDeno, tempFile } from "./helpers.ts";
import { HAVE_REDIS, RedisServer, startWorkers, WorkerProcess } from "./redis_harness.ts";

const opts = { ignore: !HAVE_REDIS, sanitizeOps: false, sanitizeResources: false };
const ids = (results: unknown[]) => results.map((r) => (r as { id: string }).id);
const range = (n: number) => Array.from({ length: n }, (_, i) => String(i));

/** Waits until `check` holds (polling every 20 ms, at most `ms`). */
async function until(check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error("the awaited state never came");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The task stream of the one run in Redis, once there is one. */
async function taskStream(server: RedisServer): Promise<string> {
  const client = await server.client();
  try {
    let stream = "";
    await until(async () => {
      stream =
        text(((await client.command("KEYS", "crunch:run:*:tasks")) as Uint8Array[])[0] ?? "") ??
          "";
      return stream !== "";
    });
    return stream;
  } finally {
    client.close();
  }
}

Deno.test(
  "redis: a worker restarted under the same name does not strand what the last one held",
  opts,
  async () => {
    const path = await tempFile("data.csv", numberedCsv(400));
    const server = await RedisServer.start();
    let workers: WorkerProcess[] = [];
    try {
      workers = await startWorkers(server, 1);
      const run = collect(classify(fixture("slow.ts"), path, {
        redis: { url: server.url(), waitForWorkers: 60_000 },
        spec: { ms: 5 },
        ordered: true,
        chunkBytes: 256,
      }));
      const stream = await taskStream(server);
      const client = await server.client();
      // Once w0 holds tasks, it dies; a new process starts under the same name, as a pod would.
      await until(async () =>
        (((await client.command("XPENDING", stream, "workers")) as unknown[])[0] as number) > 0
      );
      client.close();
      workers[0].kill("SIGKILL");
      await workers[0].stop("SIGKILL");
      workers = await startWorkers(server, 1);
      assert.deepEqual(ids(await deadline(run, 60_000)), range(400));
    } finally {
      await Promise.all(workers.map((w) => w.stop("SIGKILL")));
      await server.stop();
    }
  },
);

Deno.test(
  "redis: a FLUSHALL mid-run (keys, registry and all) loses nothing and fails nothing",
  opts,
  async () => {
    const path = await tempFile("data.csv", numberedCsv(600));
    const server = await RedisServer.start();
    let workers: WorkerProcess[] = [];
    try {
      workers = await startWorkers(server, 2);
      const run = collect(classify(fixture("slow.ts"), path, {
        redis: { url: server.url(), waitForWorkers: 3000 },
        spec: { ms: 4 },
        ordered: true,
        chunkBytes: 256,
      }));
      await taskStream(server);
      const client = await server.client();
      await client.command("FLUSHALL");
      // The registry is back from the workers' next heartbeats: the run is not "without workers".
      await until(async () =>
        ((await client.command("SMEMBERS", "crunch:workers")) as unknown[]).length === 2
      );
      await new Promise((resolve) => setTimeout(resolve, 3500)); // past waitForWorkers
      client.close();
      assert.deepEqual(ids(await deadline(run, 60_000)), range(600));
    } finally {
      await Promise.all(workers.map((w) => w.stop("SIGKILL")));
      await server.stop();
    }
  },
);

Deno.test("redis: Redis out of memory says to lower --high-water", opts, async () => {
  const path = await tempFile("data.csv", numberedCsv(200_000));
  const server = await RedisServer.start([
    "--maxmemory",
    "3mb",
    "--maxmemory-policy",
    "noeviction",
  ]);
  try {
    // No worker: the tasks pile up to the high-water mark, past Redis's memory.
    await assert.rejects(
      collect(classify(fixture("identity.ts"), path, {
        redis: { url: server.url(), highWater: 64, waitForWorkers: 60_000 },
        reader: "main",
        chunkBytes: 128 << 10,
      })),
      /refused a write for lack of memory.*lower --high-water \(the tasks in Redis at once, now 64\)/,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("redis: rediss:// with a private certificate authority (DENO_CERT)", opts, async () => {
  const dir = await Deno.makeTempDir({ prefix: "crunch-tls-" });
  const openssl = (...args: string[]) => {
    const out = new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
      .outputSync();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  };
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=crunch test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  );
  await Deno.writeTextFile(`${dir}/san.cnf`, "subjectAltName=IP:127.0.0.1\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "san.cnf",
    "-out",
    "server.pem",
  );
  const tls = await RedisServer.start([
    "--tls-cert-file",
    `${dir}/server.pem`,
    "--tls-key-file",
    `${dir}/server.key`,
    "--tls-ca-cert-file",
    `${dir}/ca.pem`,
    "--tls-auth-clients",
    "no",
  ], true);
  const path = await tempFile("data.csv", numberedCsv(100));
  const url = tls.url();
  const worker = new WorkerProcess(url, "tls", ["-w", "1"], { DENO_CERT: `${dir}/ca.pem` });
  try {
    const script = await tempFile(
      "tls.ts",
      `import { classify } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
let n = 0;
for await (const _ of classify(${JSON.stringify(fixture("identity.ts").href)}, ${
        JSON.stringify(path)
      }, { redis: ${JSON.stringify(url)} })) n++;
console.log("results", n);`,
    );
    const r = await runDeno(["run", "-A", script], { env: { DENO_CERT: `${dir}/ca.pem` } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /results 100/);
    // Without the CA the certificate is not trusted, and the error says so.
    const untrusted = await runDeno(["run", "-A", script]);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate|UnknownIssuer|invalid peer/i);
  } finally {
    await worker.stop("SIGKILL");
    await tls.stop();
  }
});
