/**
 * A few seeded chaos trials through a real redis-server (tests/chaos.ts):
 * each fault once, every record once and in order, no hang. The bench runs
 * many more (`deno task bench --only=13`).
 */
import assert from "node:assert/strict";
import { FAULTS, trial } from "./chaos.ts";
import { HAVE_REDIS } from "./redis_harness.ts";

/** Seeds whose first draw picks each fault in turn (found once, kept fixed). */
function seedFor(fault: string): number {
  for (let seed = 1;; seed++) {
    let a = seed >>> 0;
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const first = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    if (FAULTS[Math.floor(first * FAULTS.length)] === fault) return seed;
  }
}

for (const fault of FAULTS) {
  Deno.test({
    name: `chaos through Redis: ${fault} mid-run, every record once, in order, no hang`,
    ignore: !HAVE_REDIS,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const result = await trial(seedFor(fault), 2000, 90_000);
      assert.equal(result.fault, fault);
      assert.deepEqual(
        {
          hung: result.hung,
          duplicates: result.duplicates,
          missing: result.missing,
          detail: result.detail,
        },
        { hung: false, duplicates: 0, missing: 0, detail: undefined },
      );
      assert.ok(result.identical);
    },
  });
}
