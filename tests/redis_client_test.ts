/**
 * The RESP client against a real redis-server: large replies of many
 * entries come back whole and byte for byte, scripts go by SHA-1 after their
 * first use and are sent whole again when Redis has lost them.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { HAVE_REDIS, RedisServer } from "./redis_harness.ts";

const opts = { ignore: !HAVE_REDIS, sanitizeOps: false, sanitizeResources: false };

/** `n` bytes that hold CRLFs and RESP type bytes, different for each `seed`. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 97 === 0 ? 13 : i % 97 === 1 ? 10 : x >>> 24;
  }
  return out;
}

Deno.test(
  "redis client: one reply of 64 entries of 512 KiB comes back byte for byte",
  opts,
  async () => {
    const server = await RedisServer.start();
    const client = await server.client();
    try {
      const values = Array.from({ length: 64 }, (_, i) => bytes(512 * 1024, i + 1));
      await client.command("RPUSH", "big", ...values);
      // Small commands pipelined around the large reply stay matched to their callers.
      const [before, reply, after] = await Promise.all([
        client.command("ECHO", "before"),
        client.command("LRANGE", "big", 0, -1),
        client.command("ECHO", "after"),
      ]);
      assert.deepEqual(new TextDecoder().decode(before as Uint8Array), "before");
      assert.deepEqual(new TextDecoder().decode(after as Uint8Array), "after");
      const items = reply as Uint8Array[];
      assert.equal(items.length, 64);
      for (let i = 0; i < 64; i++) {
        assert.ok(
          Buffer.compare(items[i], values[i]) === 0,
          `entry ${i}`,
        );
      }
      // Each entry is a copy of its own: a later reply does not overwrite it.
      const first = items[0].slice();
      await client.command("LRANGE", "big", 0, -1);
      assert.ok(Buffer.compare(items[0], first) === 0);
    } finally {
      client.close();
      await server.stop();
    }
  },
);

Deno.test(
  "redis client: a script goes by its SHA-1 after its first use, whole after NOSCRIPT",
  opts,
  async () => {
    const server = await RedisServer.start();
    const client = await server.client();
    const watcher = await server.client();
    try {
      const script = "return redis.call('INCR', KEYS[1])";
      assert.equal(await client.command("EVAL", script, 1, "n"), 1);
      const calls = async (name: string) => {
        const info = new TextDecoder().decode(
          await watcher.command("INFO", "commandstats") as Uint8Array,
        );
        return Number(info.match(new RegExp(`cmdstat_${name}:calls=(\\d+)`))?.[1] ?? 0);
      };
      assert.equal(await client.command("EVAL", script, 1, "n"), 2);
      assert.equal(await client.command("EVAL", script, 1, "n"), 3);
      assert.equal(await calls("eval"), 1);
      assert.equal(await calls("evalsha"), 2);
      // Redis loses its scripts: the next call is refused by SHA-1 and sent whole.
      await watcher.command("SCRIPT", "FLUSH");
      assert.equal(await client.command("EVAL", script, 1, "n"), 4);
      assert.equal(await calls("eval"), 2);
      // A script's own error is the caller's, not a fall-back.
      await assert.rejects(
        () => client.command("EVAL", "return redis.error_reply('MINE nope')", 0),
        /MINE nope/,
      );
    } finally {
      client.close();
      watcher.close();
      await server.stop();
    }
  },
);
