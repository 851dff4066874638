/**
 * Word from a coordinator to the `crunch worker` holding one of its tasks,
 * through Redis: a hash of the run (task id → what to do) that each worker
 * process reads for the tasks it holds, a few times a second while it holds
 * any, and clears once it acted:
 * - `split:N`: share what the task has not started among N workers (a
 *   straggler split in flight); the answer comes on the result stream;
 * - `cancel`: drop the task (a race's loser); the worker stops it at its
 *   next record and acknowledges its entry, with no outcome.
 *
 * @module
 */

import type { RedisClient, Reply } from "./client.ts";
import { text } from "./client.ts";
import { keys } from "./wire.ts";

/** How long a run's controls last unrenewed, ms (as its other keys). */
const CONTROLS_TTL_MS = 5_000;

/** What a worker process is told to do with a task. */
export type Control = { kind: "split"; parts: number } | { kind: "cancel" };

/** Tells whoever holds task `tid` of run `run` to do `control` (a task still queued is dropped there). */
export async function sendControl(
  ctl: RedisClient,
  run: string,
  tid: number,
  control: Control,
  entry?: string,
): Promise<void> {
  const what = control.kind === "split" ? `split:${control.parts}` : "cancel";
  await ctl.command("HSET", keys.controls(run), String(tid), what);
  await ctl.command("PEXPIRE", keys.controls(run), CONTROLS_TTL_MS);
  // A cancelled task not yet claimed is taken off the stream: no worker starts it.
  if (control.kind === "cancel" && entry) await ctl.command("XDEL", keys.tasks(run), entry);
}

/** What the coordinator of run `run` says of `tids` (each once: read and cleared). */
export async function takeControls(
  ctl: RedisClient,
  run: string,
  tids: number[],
): Promise<Map<number, Control>> {
  const controls = new Map<number, Control>();
  if (tids.length === 0) return controls;
  const got = (await ctl.command("HMGET", keys.controls(run), ...tids.map(String))) as Reply[];
  tids.forEach((tid, i) => {
    const what = text(got[i]);
    if (what === "cancel") controls.set(tid, { kind: "cancel" });
    else if (what?.startsWith("split:")) {
      controls.set(tid, { kind: "split", parts: Number(what.slice("split:".length)) });
    }
  });
  if (controls.size) {
    await ctl.command("HDEL", keys.controls(run), ...[...controls.keys()].map(String));
  }
  return controls;
}
