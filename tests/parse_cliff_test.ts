/**
 * The CSV parser's speed must not depend on whether a chunk holds quotes,
 * malformed records or neither. Parse time is compared as a ratio between
 * chunks parsed in the same test run, each kind in a fresh worker (so the
 * optimized code has seen only that kind), with a bound far above noise and
 * far below the 10x cliff it guards against.
 */
import assert from "node:assert/strict";
import { random, word } from "../examples/words.ts";

const COLUMNS = ["id", "timestamp", "user", "text", "amount"];

/** About 512 KiB of records like the bench's, with no quote character anywhere. */
function cleanChunk(): string[] {
  const next = random(5);
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < 512 << 10; i++) {
    const words = [];
    for (let w = 6 + Math.floor(next() * 9); w > 0; w--) words.push(word(Math.floor(next() * 4e5)));
    const line = `${i},2026-03-01T10:00:00,u${i % 5000},${words.join(" ")},${(i % 500).toFixed(2)}`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines;
}

function medianParseMs(text: string): Promise<{ median: number; records: number }> {
  const worker = new Worker(new URL("./fixtures/parse_timer.ts", import.meta.url), {
    type: "module",
  });
  return new Promise((resolve, reject) => {
    worker.onmessage = (event) => {
      worker.terminate();
      resolve(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error(event.message));
    };
    worker.postMessage({ text, columns: COLUMNS, runs: 15 });
  });
}

Deno.test("parsing costs the same with no quote, one quoted field or one bad record", async () => {
  const lines = cleanChunk();
  const middle = lines.length >> 1;
  const variants: Record<string, string> = {
    "no quote": lines.join("\n") + "\n",
    "one quoted field": lines.map((l, i) => i === middle ? l.replace(",u", ',"u') + '"' : l)
      .join("\n") + "\n",
    "one bad record": lines.map((l, i) => i === middle ? l + ",extra" : l).join("\n") + "\n",
  };
  assert.ok(variants["one quoted field"].includes('"'));
  const best: Record<string, number> = {};
  // Two rounds, each kind in a fresh worker; each kind's best median counts.
  for (let round = 0; round < 2; round++) {
    for (const [name, text] of Object.entries(variants)) {
      const { median, records } = await medianParseMs(text);
      assert.equal(records, lines.length, name);
      best[name] = Math.min(best[name] ?? Infinity, median);
    }
  }
  const fastest = Math.min(...Object.values(best));
  for (const [name, ms] of Object.entries(best)) {
    assert.ok(
      ms < 3 * fastest,
      `${name}: ${ms.toFixed(2)} ms per chunk against ${
        fastest.toFixed(2)
      } ms for the fastest kind ` +
        `(${JSON.stringify(best)})`,
    );
  }
});
