/**
 * Reading one large Redis reply: LRANGE of n entries of 512 KiB (n = 1, 8,
 * 32, 64), by crunch's RESP client, by the same client at an earlier
 * checkout (`--before=DIR`, a worktree of it; optional), and by node-redis,
 * in the same rounds against one redis-server on loopback. Each timing reads
 * at least 64 MiB; the order of the contenders rotates from round to round.
 *
 * Usage: `deno run -A bench/redis_reply.ts [--before=/path/to/old/checkout] [--reps=5]`
 *
 * @module
 */

import { createClient } from "redis";
import { RedisClient } from "../lib/backends/redis/client.ts";
import { RedisServer } from "../tests/redis_harness.ts";
import { showSpread, spread } from "./stats.ts";

const before = Deno.args.find((a) => a.startsWith("--before="))?.slice("--before=".length);
const reps = Number(Deno.args.find((a) => a.startsWith("--reps="))?.slice("--reps=".length) ?? 5);
const ENTRY = 512 * 1024;
const sizes = [1, 8, 32, 64];

type Read = (key: string) => Promise<number>;
const server = await RedisServer.start();
const contenders: [string, Read, () => void][] = [];
{
  const client = await RedisClient.connect(server.url());
  contenders.push([
    "crunch",
    async (key) => (await client.command("LRANGE", key, 0, -1) as Uint8Array[]).length,
    () => client.close(),
  ]);
}
if (before) {
  const path = [`${before}/lib/backends/redis/client.ts`, `${before}/lib/redis/client.ts`]
    .find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
  const Old = (await import(`file://${path}`)).RedisClient as typeof RedisClient;
  const client = await Old.connect(server.url());
  contenders.push([
    "crunch before",
    async (key) => (await client.command("LRANGE", key, 0, -1) as Uint8Array[]).length,
    () => client.close(),
  ]);
}
{
  const client = createClient({ url: server.url() });
  await client.connect();
  contenders.push([
    "node-redis",
    async (key) =>
      (await client.sendCommand(["LRANGE", key, "0", "-1"], {
        returnBuffers: true,
      }) as Uint8Array[])
        .length,
    () => void client.disconnect(),
  ]);
}

const setup = await RedisClient.connect(server.url());
const entry = crypto.getRandomValues(new Uint8Array(65536));
const value = new Uint8Array(ENTRY);
for (let i = 0; i < ENTRY; i += entry.length) value.set(entry, i);
for (const n of sizes) {
  await setup.command("RPUSH", `list${n}`, ...Array.from({ length: n }, () => value));
}

/** MB/s of each contender for each size, one value per round. */
const rates = new Map<string, number[]>();
for (let round = 0; round < reps; round++) {
  for (const n of sizes) {
    const times = Math.max(1, Math.ceil(64 / n));
    for (let c = 0; c < contenders.length; c++) {
      const [name, read] = contenders[(c + round) % contenders.length];
      await read(`list${n}`); // warm
      const t0 = performance.now();
      for (let i = 0; i < times; i++) {
        if (await read(`list${n}`) !== n) throw new Error(`${name}: short reply`);
      }
      const seconds = (performance.now() - t0) / 1000;
      const key = `${name} n=${n}`;
      rates.set(key, [...(rates.get(key) ?? []), (times * n * ENTRY) / 1e6 / seconds]);
    }
  }
}

const names = contenders.map(([name]) => name);
console.log(`| n × 512 KiB | ${names.map((n) => `${n} MB/s`).join(" | ")} | ratios |`);
console.log(`|---|${names.map(() => "---").join("|")}|---|`);
for (const n of sizes) {
  const mine = rates.get(`crunch n=${n}`)!;
  const cells = names.map((name) => showSpread(spread(rates.get(`${name} n=${n}`)!), 0));
  const ratios = names.slice(1).map((name) => {
    const theirs = rates.get(`${name} n=${n}`)!;
    return `crunch/${name} ${showSpread(spread(mine.map((v, i) => v / theirs[i])), 2)}`;
  });
  console.log(`| ${n} | ${cells.join(" | ")} | ${ratios.join("; ")} |`);
}
for (const [, , close] of contenders) close();
setup.close();
await server.stop();
