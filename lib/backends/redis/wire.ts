/**
 * How a coordinator and `crunch worker` processes meet in Redis: the keys,
 * the fields of stream entries, and the Lua script that records a task's
 * outcome exactly once. Both sides import this module; the messages inside
 * the entries are those of `lib/protocol.ts`, as frames of `lib/frames.ts`.
 *
 * ```text
 * crunch:runlist              sorted set: ids of runs that want workers, scored by when
 *                             (Redis's clock, in seconds) the listing lapses unless renewed
 * crunch:workers              set: names of worker processes
 * crunch:worker:<name>        string with a TTL: the worker is alive (its heartbeat)
 * crunch:run:{<id>}           hash: "meta" (JSON, RunMeta), "spec" (V8-serialized)
 * crunch:run:{<id>}:tasks     stream, consumer group "workers": tid, frame[, columns]
 * crunch:run:{<id>}:results   stream: kind, tids, frames | error
 * ```
 *
 * The keys of a run share a hash tag (`{<id>}`), so that on a Redis Cluster
 * they lie in one slot: the scripts that touch several of them run there.
 *
 * A task entry stays in the task stream until its outcome is recorded, so
 * the stream's length is what the coordinator has in flight (its high-water
 * mark bounds it). A worker records a task's results, or its loss, with
 * {@linkcode RECORD_SCRIPT}: one script that acknowledges the entry and
 * writes the outcome only if the entry was still pending. The coordinator
 * gives a task up with the same script (without an outcome), so a worker
 * that was given up on and finishes late writes nothing.
 *
 * @module
 */

import type { RunLimits, RunSettings } from "../backend.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The prefix of every key. */
export const PREFIX = "crunch:";

/** The consumer group of the workers on every task stream. */
export const GROUP = "workers";

/** Keys of the registry and of one run. */
export const keys = {
  runs: `${PREFIX}runlist`,
  workers: `${PREFIX}workers`,
  worker: (name: string) => `${PREFIX}worker:${name}`,
  run: (id: string) => `${PREFIX}run:{${id}}`,
  tasks: (id: string) => `${PREFIX}run:{${id}}:tasks`,
  results: (id: string) => `${PREFIX}run:{${id}}:results`,
  controls: (id: string) => `${PREFIX}run:{${id}}:controls`,
};

/** What a worker needs to know of a run before it takes its tasks. */
export interface RunMeta {
  /** The plug-in's URL, as the coordinator resolved it. */
  module: string;
  /** SHA-256 (hex) of the plug-in's source as the coordinator read it. */
  hash: string;
  /** The run's settings, as a local worker gets them (no shared buffers). */
  settings: RunSettings;
  limits: RunLimits;
  /** Workers per worker process: threads or processes. */
  isolation?: "thread" | "process";
  permissions?: Deno.PermissionOptions;
  maxWorkerMemory?: number;
  /** Who started the run (host and pid), for messages. */
  coordinator: string;
}

/** A worker's heartbeat value. */
export interface WorkerInfo {
  host: string;
  pid: number;
  workers: number;
}

/** The kinds of result entries. */
export type ResultKind =
  /** `frames`: the task's count (if any) and its pieces, the last one "done". */
  | "done"
  /** The local worker died holding these tasks (the first was running); `error` says how. */
  | "lost"
  /** A task's record count, ahead of its results (not an outcome: the task stays pending). */
  | "count"
  /** Results of a slow task, ahead of its outcome (the task stays pending). */
  | "piece"
  /** Where a task was cut, asked by its coordinator (not an outcome: the task stays pending). */
  | "split"
  /** The task was cancelled by its coordinator: acknowledged, nothing more comes of it. */
  | "cancelled"
  /** A local worker died between tasks: nothing to run again, one death to count. */
  | "died"
  /** The worker will not run this run (module mismatch, not allowed, input not readable). */
  | "refused";

/**
 * Acknowledges task entries and writes one result entry for those that were
 * still pending. KEYS: tasks, results. ARGV: group, n, n entry ids, n tids,
 * then the field/value pairs of the result entry (none: only acknowledge).
 * Returns the tids that were acknowledged, comma-separated ("" for none).
 */
export const RECORD_SCRIPT = `
local n = tonumber(ARGV[2])
local acked = {}
for i = 1, n do
  local ok, count = pcall(redis.call, 'XACK', KEYS[1], ARGV[1], ARGV[2 + i])
  if ok and count == 1 then
    redis.call('XDEL', KEYS[1], ARGV[2 + i])
    acked[#acked + 1] = ARGV[2 + n + i]
  end
end
local tids = table.concat(acked, ',')
if #acked > 0 and #ARGV > 2 + 2 * n then
  local fields = {'tids', tids}
  for i = 3 + 2 * n, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('XADD', KEYS[2], '*', unpack(fields))
end
return tids
`;

/**
 * Adds an entry to a run's result stream only while the run exists, so a
 * late note does not bring back the stream of a run that ended. KEYS: the
 * run's hash, its results. ARGV: the entry's field/value pairs.
 */
export const NOTE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('XADD', KEYS[2], '*', unpack(ARGV))
end
return false
`;

/**
 * Lists a run, or renews its listing, until `ttl` seconds from now by Redis's
 * own clock (machines' clocks may differ). Only its coordinator lists a run,
 * and does again every half second: a listing whose coordinator stopped
 * lapses by itself. KEYS: the list. ARGV: the run's id, ttl.
 */
export const LIST_SCRIPT = `
local now = tonumber(redis.call('TIME')[1])
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
`;

/**
 * The runs listed now, lapsed listings dropped first (the same by whoever
 * drops them, so the list stays the coordinators' alone). KEYS: the list.
 */
export const RUNS_SCRIPT = `
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/** The arguments of an EVAL of {@linkcode LIST_SCRIPT}: list run `id` for `ttl` seconds. */
export function listArgs(id: string, ttl: number): (string | number)[] {
  return ["EVAL", LIST_SCRIPT, 1, keys.runs, id, ttl];
}

/** The arguments of an EVAL of {@linkcode RUNS_SCRIPT}. */
export function runsArgs(): (string | number)[] {
  return ["EVAL", RUNS_SCRIPT, 1, keys.runs];
}

/** The arguments of an EVAL of {@linkcode NOTE_SCRIPT}: a note on `run`'s result stream. */
export function noteArgs(
  run: string,
  fields: (string | Uint8Array)[],
): (string | number | Uint8Array)[] {
  return ["EVAL", NOTE_SCRIPT, 2, keys.run(run), keys.results(run), ...fields];
}

/** The arguments of an EVAL of {@linkcode RECORD_SCRIPT}. */
export function recordArgs(
  run: string,
  entries: { id: string; tid: number }[],
  fields: (string | Uint8Array)[] = [],
): (string | number | Uint8Array)[] {
  return [
    "EVAL",
    RECORD_SCRIPT,
    2,
    keys.tasks(run),
    keys.results(run),
    GROUP,
    entries.length,
    ...entries.map((e) => e.id),
    ...entries.map((e) => e.tid),
    ...fields,
  ];
}

/** The fields of a stream entry (a flat array of names and values) as a map of name to bytes. */
export function entryFields(flat: unknown): Map<string, Uint8Array> {
  const fields = new Map<string, Uint8Array>();
  if (!Array.isArray(flat)) return fields;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i] instanceof Uint8Array ? decoder.decode(flat[i]) : String(flat[i]);
    const value = flat[i + 1];
    fields.set(name, value instanceof Uint8Array ? value : encoder.encode(String(value)));
  }
  return fields;
}

/** The entries of an XREAD/XREADGROUP reply for one stream: id and fields. */
export function streamEntries(reply: unknown): { id: string; fields: Map<string, Uint8Array> }[] {
  if (!Array.isArray(reply)) return [];
  const out: { id: string; fields: Map<string, Uint8Array> }[] = [];
  for (const stream of reply) {
    const entries = (stream as unknown[])[1];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      const [id, flat] = entry as [Uint8Array, unknown];
      // A claimed entry that was deleted meanwhile comes back with nil fields.
      if (flat === null) continue;
      out.push({ id: decoder.decode(id), fields: entryFields(flat) });
    }
  }
  return out;
}

/** SHA-256, hex, of the bytes at `url` (the plug-in's source). */
export async function moduleHash(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
