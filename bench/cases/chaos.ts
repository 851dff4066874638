/**
 * Case 13: seeded chaos through a real redis-server, many trials (the suite
 * runs one of each fault): every record once and in order, no hang, under a
 * worker killed or stopped past its heartbeat, Redis restarted empty, paused
 * or flushed, or the coordinator killed and the command run again.
 *
 * @module
 */

import type { Context } from "../context.ts";
import { FAULTS, trial, type TrialResult } from "../../tests/chaos.ts";
import { HAVE_REDIS } from "../../tests/redis_harness.ts";

/** Case 13. */
export async function chaos(ctx: Context): Promise<void> {
  if (!HAVE_REDIS) {
    ctx.rows.push({ case: "13 chaos", variant: "redis", note: "skipped: redis-server not found" });
    return;
  }
  const trials = ctx.quick ? 12 : 60;
  const results: TrialResult[] = [];
  for (let seed = 1000; seed < 1000 + trials; seed++) {
    const result = await trial(seed, 3000, 120_000);
    results.push(result);
    ctx.log(
      `chaos seed ${seed}: ${result.fault}, ${result.identical ? "identical" : "DIFFERS"}` +
        `${result.hung ? ", HUNG" : ""}, ${result.seconds.toFixed(1)} s${
          result.detail ? `, ${result.detail}` : ""
        }`,
    );
  }
  for (const fault of ["all", ...FAULTS]) {
    const of = fault === "all" ? results : results.filter((r) => r.fault === fault);
    if (of.length === 0) continue;
    const count = (f: (r: TrialResult) => boolean) => of.filter(f).length;
    ctx.rows.push({
      case: "13 chaos through Redis",
      variant: fault,
      value: of.length,
      unit: "trials",
      note: `${count((r) => r.identical)} identical, ${count((r) => r.hung)} hung, ` +
        `${of.reduce((n, r) => n + r.duplicates, 0)} duplicates, ` +
        `${of.reduce((n, r) => n + r.missing, 0)} records lost`,
    });
  }
}
