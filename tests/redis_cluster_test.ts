/**
 * crunch through a real three-node Redis Cluster on loopback: a run's keys
 * share a hash tag (one slot, so its scripts run), the client follows MOVED
 * and ASK, and the coordinator and the workers may each start from any node.
 */
import assert from "node:assert/strict";
import { classify } from "../mod.ts";
import { slotOf } from "../lib/backends/redis/cluster.ts";
import { keys } from "../lib/backends/redis/wire.ts";
import { collect, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";
import { HAVE_REDIS, RedisCluster, WorkerProcess } from "./redis_harness.ts";

const opts = { ignore: !HAVE_REDIS, sanitizeOps: false, sanitizeResources: false };
const range = (n: number) => Array.from({ length: n }, (_, i) => String(i));

Deno.test(
  "redis cluster: hash slots are the cluster's own, a run's keys share one",
  opts,
  async () => {
    const cluster = await RedisCluster.start();
    const client = await cluster.nodes[0].client();
    try {
      for (
        const key of ["", "a", "crunch:runlist", "crunch:run:{x}:tasks", "{}x", "a{b}c{d}", "ü"]
      ) {
        assert.equal(slotOf(key), await client.command("CLUSTER", "KEYSLOT", key), key);
      }
      const id = "mx1-2-3";
      assert.equal(slotOf(keys.run(id)), slotOf(keys.tasks(id)));
      assert.equal(slotOf(keys.run(id)), slotOf(keys.results(id)));
      // The client goes where the key lives, whichever node it connected to.
      for (let i = 0; i < 50; i++) await client.command("SET", `k${i}`, i);
      for (const node of cluster.nodes) {
        const other = await node.client();
        try {
          for (let i = 0; i < 50; i++) {
            assert.equal(
              new TextDecoder().decode(await other.command("GET", `k${i}`) as Uint8Array),
              String(i),
            );
          }
        } finally {
          other.close();
        }
      }
    } finally {
      client.close();
      await cluster.stop();
    }
  },
);

Deno.test(
  "redis cluster: runs through the library and the command, workers on other nodes",
  opts,
  async () => {
    const cluster = await RedisCluster.start();
    const [a, b, c] = cluster.nodes.map((n) => n.url());
    const workers = [
      new WorkerProcess(b, "w0", ["-w", "1"]),
      new WorkerProcess(c, "w1", ["-w", "1"]),
    ];
    try {
      const path = await tempFile("data.csv", numberedCsv(3000));
      const results = await collect(classify(fixture("identity.ts"), path, {
        redis: a,
        ordered: true,
        chunkBytes: 4096,
      }));
      assert.deepEqual(results.map((r) => (r as { id: string }).id), range(3000));
      const run = await runCrunch([
        "--redis",
        c,
        "--ordered",
        "-t",
        "csv",
        fixture("identity.ts").pathname,
        path,
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim().split("\n").length, 3001);
    } finally {
      const logs = await Promise.all(workers.map((w) => w.stop()));
      await cluster.stop();
      for (const { code, log } of logs) assert.equal(code, 0, log);
    }
  },
);
