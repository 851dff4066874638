/**
 * A backend whose workers are `crunch worker` processes on any number of
 * machines, reached through Redis Streams: the coordinator puts each task on
 * the run's task stream, whose consumer group hands it to one worker, and
 * reads the outcomes back from the run's result stream. The engine above it
 * (scheduling, retries, bisection, ordering, output) is the one local runs
 * use.
 *
 * What this backend guarantees, and how:
 * - Exactly one outcome per task: outcomes are recorded by one Lua script
 *   that acknowledges the task entry and writes the outcome only if the
 *   entry was still pending (`RECORD_SCRIPT` in `lib/redis/wire.ts`), and
 *   the coordinator forgets a task once it has its outcome, so a duplicate
 *   is dropped twice over.
 * - A worker process that dies (SIGKILL, a lost machine) stops renewing its
 *   heartbeat key; its pending tasks are given up with the same script and
 *   reported lost, and the engine sends them again (bisecting, if a record
 *   keeps killing workers). A worker that is busy keeps its heartbeat, so a
 *   slow task is not taken from it.
 * - Redis restarted without its data: the connection drops, the coordinator
 *   connects again (for up to `reconnectTimeout`), finds its run gone, and
 *   sends every task it has no outcome for again.
 * - The task stream never holds more than `highWater` tasks, so Redis's
 *   memory stays bounded whatever the input's size.
 *
 * @module
 */

import { serialize } from "node:v8";
import { CrunchError, WorkerCrashError } from "../../errors.ts";
import { decodeFrames, encodeFrames } from "../../wire/frames.ts";
import { RedisClient, RedisConnectionError, type Reply, text } from "./client.ts";
import { GROUP, keys, moduleHash, recordArgs, type RunMeta, streamEntries } from "./wire.ts";
import type { RedisOptions } from "../../options.ts";
import type {
  Backend,
  BackendListener,
  BackendRun,
  RunLimits,
  RunSettings,
  TaskMessage,
} from "../backend.ts";

/** The pool options a Redis run sends to its workers. */
export interface RemotePoolOptions {
  spec?: unknown;
  isolation?: "thread" | "process";
  permissions?: Deno.PermissionOptions;
  maxWorkerMemory?: number;
}

const DEFAULT_HIGH_WATER = 64;
const DEFAULT_WAIT_MS = 60_000;
const DEFAULT_RECONNECT_MS = 60_000;
/** How often the coordinator looks for tasks held by workers that stopped. */
const WATCH_MS = 500;
/**
 * A run's keys expire this long after its coordinator last renewed them, so
 * a coordinator that died leaves nothing behind for long.
 */
const RUN_TTL_MS = 5_000;

const decoder = new TextDecoder();

/** Workers on other machines (or this one), through Redis. */
export class RedisBackend implements Backend {
  readonly #options: Required<RedisOptions>;
  readonly #module: string;
  readonly #hash: string;
  readonly #spec: Uint8Array;
  readonly #pool: RemotePoolOptions;
  readonly #display: string;
  /** Runs begun, for their ids. */
  #runs = 0;
  #run: RedisRun | undefined;
  #closed = false;

  private constructor(
    options: Required<RedisOptions>,
    module: string,
    hash: string,
    spec: Uint8Array,
    pool: RemotePoolOptions,
    display: string,
  ) {
    this.#options = options;
    this.#module = module;
    this.#hash = hash;
    this.#spec = spec;
    this.#pool = pool;
    this.#display = display;
  }

  /**
   * Checks that Redis can be reached with `options.url` and reads the
   * plug-in's source for its hash; workers start taking tasks at the first
   * run.
   */
  static async start(
    module: string,
    redis: RedisOptions,
    pool: RemotePoolOptions,
  ): Promise<RedisBackend> {
    const options: Required<RedisOptions> = {
      url: redis.url,
      highWater: redis.highWater ?? DEFAULT_HIGH_WATER,
      waitForWorkers: redis.waitForWorkers ?? DEFAULT_WAIT_MS,
      reconnectTimeout: redis.reconnectTimeout ?? DEFAULT_RECONNECT_MS,
    };
    let hash: string;
    try {
      hash = await moduleHash(module);
    } catch (error) {
      throw new CrunchError(
        `cannot read ${module} to send it to the workers: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const client = await RedisClient.connect(options.url);
    const display = client.display;
    try {
      await client.command("PING");
    } finally {
      client.close();
    }
    return new RedisBackend(options, module, hash, serialize(pool.spec), pool, display);
  }

  /** Tasks in flight at most, spread as if over workers that hold two each. */
  get size(): number {
    return Math.max(1, Math.ceil(this.#options.highWater / 2));
  }

  async begin(
    settings: RunSettings,
    limits: RunLimits,
    listener: BackendListener,
  ): Promise<BackendRun> {
    if (this.#closed) throw new CrunchError("the workers are closed");
    // A shared clock cannot cross machines: each worker process spaces its own calls.
    const { rate, ...rest } = settings;
    const sent: RunSettings = rate
      ? { ...rest, rate: { intervalUs: rate.intervalUs, perWorkerUs: rate.perWorkerUs } }
      : rest;
    const meta: RunMeta = {
      module: this.#module,
      hash: this.#hash,
      settings: sent,
      limits,
      isolation: this.#pool.isolation,
      permissions: this.#pool.permissions,
      maxWorkerMemory: this.#pool.maxWorkerMemory,
      coordinator: `${Deno.hostname()}:${Deno.pid}`,
    };
    const id = `${Date.now().toString(36)}-${Deno.pid}-${++this.#runs}-${
      crypto.randomUUID().slice(0, 8)
    }`;
    const run = new RedisRun(id, meta, this.#spec, this.#options, this.#display, listener);
    await run.open();
    this.#run = run;
    return run;
  }

  close(): Promise<string[]> {
    this.#closed = true;
    this.#run?.end(true);
    return Promise.resolve([]);
  }

  terminate(): void {
    this.#closed = true;
    this.#run?.end(true);
  }
}

/** A task the coordinator has sent and has no outcome for. */
interface Flight {
  tid: number;
  seq: number;
  frame: Uint8Array;
  /** Its entry in the task stream, once XADD answered. */
  entry?: string;
  /** Its count message came (sent ahead of its results, for bisection after a death). */
  counted?: boolean;
}

/** One run through Redis. */
class RedisRun implements BackendRun {
  readonly #id: string;
  readonly #meta: RunMeta;
  readonly #spec: Uint8Array;
  readonly #options: Required<RedisOptions>;
  readonly #display: string;
  readonly #listener: BackendListener;
  readonly #flights = new Map<number, Flight>();
  /** Worker process names, numbered in the order they first lost a task (for errors). */
  readonly #names = new Map<string, number>();
  #ctl: RedisClient | undefined;
  #reader: RedisClient | undefined;
  #nextTid = 1;
  #columns: string | undefined;
  #lastId = "0";
  #ended = false;
  #failed = false;
  #recovering: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #watching = false;
  #noWorkersSince: number | undefined;
  #lastWorkerCheck = 0;

  constructor(
    id: string,
    meta: RunMeta,
    spec: Uint8Array,
    options: Required<RedisOptions>,
    display: string,
    listener: BackendListener,
  ) {
    this.#id = id;
    this.#meta = meta;
    this.#spec = spec;
    this.#options = options;
    this.#display = display;
    this.#listener = listener;
  }

  /** Connects, publishes the run for the workers, and starts reading outcomes. */
  async open(): Promise<void> {
    this.#ctl = await RedisClient.connect(this.#options.url);
    this.#reader = await RedisClient.connect(this.#options.url);
    await this.#publish();
    this.#readLoop();
    this.#timer = setInterval(() => this.#watch(), WATCH_MS);
  }

  async #publish(): Promise<void> {
    const ctl = this.#ctl!;
    const fields: (string | Uint8Array)[] = [
      "meta",
      JSON.stringify(this.#meta),
      "spec",
      this.#spec,
    ];
    if (this.#columns !== undefined) fields.push("columns", this.#columns);
    await Promise.all([
      ctl.command("HSET", keys.run(this.#id), ...fields),
      ctl.command("XGROUP", "CREATE", keys.tasks(this.#id), GROUP, "$", "MKSTREAM"),
      ctl.command("SADD", keys.runs, this.#id),
    ]);
  }

  room(): number {
    if (this.#ended || this.#failed) return 0;
    return Math.max(0, this.#options.highWater - this.#flights.size);
  }

  send(task: TaskMessage, _transfer?: ArrayBuffer[]): void {
    const frame = encodeFrames([task]); // throws a DataCloneError for what cannot be sent
    const flight: Flight = { tid: this.#nextTid++, seq: task.seq, frame };
    this.#flights.set(flight.tid, flight);
    if (!this.#recovering) this.#add(flight);
  }

  #add(flight: Flight): void {
    const fields: (string | number | Uint8Array)[] = ["tid", flight.tid, "frame", flight.frame];
    if (this.#columns !== undefined) fields.push("columns", this.#columns);
    this.#ctl!.command("XADD", keys.tasks(this.#id), "*", ...fields).then(
      (id) => flight.entry = text(id),
      (error) => this.#trouble(error),
    );
  }

  columns(columns: string[]): void {
    this.#columns = JSON.stringify(columns);
    this.#ctl?.command("HSET", keys.run(this.#id), "columns", this.#columns).catch((error) =>
      this.#trouble(error)
    );
  }

  end(_cancel: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#timer);
    this.#reader?.close();
    const ctl = this.#ctl;
    if (ctl === undefined || !ctl.connected) return;
    // Workers see the run gone (its group and meta), drop what they hold of it, and move on.
    Promise.all([
      ctl.command("SREM", keys.runs, this.#id),
      ctl.command("DEL", keys.run(this.#id), keys.tasks(this.#id), keys.results(this.#id)),
    ]).catch(() => {}).finally(() => ctl.close());
  }

  async #readLoop(): Promise<void> {
    while (!this.#ended) {
      const reader = this.#reader;
      let reply: Reply;
      try {
        if (this.#recovering || reader === undefined) {
          throw new RedisConnectionError("reconnecting");
        }
        reply = await reader.command(
          "XREAD",
          "COUNT",
          256,
          "BLOCK",
          1000,
          "STREAMS",
          keys.results(this.#id),
          this.#lastId,
        );
      } catch (error) {
        if (this.#ended) return;
        await this.#trouble(error);
        continue;
      }
      const entries = streamEntries(reply);
      if (entries.length === 0) continue;
      for (const { id, fields } of entries) {
        this.#lastId = id;
        if (this.#ended) return;
        this.#outcome(fields);
      }
      this.#ctl?.command("XDEL", keys.results(this.#id), ...entries.map((e) => e.id)).catch(
        (error) => this.#trouble(error),
      );
    }
  }

  /** A result entry: a task's results, tasks a worker lost, or a worker's refusal. */
  #outcome(fields: Map<string, Uint8Array>): void {
    const kind = decoder.decode(fields.get("kind"));
    const tids = decoder.decode(fields.get("tids")).split(",").filter(Boolean).map(Number);
    const worker = decoder.decode(fields.get("worker"));
    if (kind === "refused") {
      this.#failed = true;
      this.#listener.failed(
        new CrunchError(
          `crunch worker ${worker} refused the run: ${decoder.decode(fields.get("error"))}`,
        ),
      );
      return;
    }
    const live = tids.map((tid) => this.#flights.get(tid)).filter((f) => f !== undefined);
    if (live.length === 0) return; // an outcome the coordinator has already (a late duplicate)
    const frames = fields.get("frames") ?? new Uint8Array();
    if (kind === "count") {
      // Sent ahead, so that a task whose worker dies can still be bisected.
      this.#deliver(live[0], frames);
      return;
    }
    for (const flight of live) this.#flights.delete(flight.tid);
    if (kind === "done") {
      this.#deliver(live[0], frames);
    } else if (kind === "lost") {
      const reason = decoder.decode(fields.get("error")).replace(/^worker \d+ died: /, "");
      this.#listener.lost(
        live.map((f) => f.seq),
        new WorkerCrashError(this.#index(worker), `${reason} (in crunch worker ${worker})`),
      );
    }
  }

  /** Hands a task's messages to the engine: its count once, then its pieces. */
  #deliver(flight: Flight, frames: Uint8Array): void {
    for (const message of decodeFrames(frames)) {
      if (message.type === "count") {
        if (flight.counted) continue;
        flight.counted = true;
        this.#listener.count(message);
      } else if (message.type === "partial" || message.type === "done") {
        this.#listener.piece(message);
      }
    }
  }

  #index(worker: string): number {
    let index = this.#names.get(worker);
    if (index === undefined) this.#names.set(worker, index = this.#names.size);
    return index;
  }

  /** Gives up the tasks of worker processes whose heartbeat is gone; fails a run nobody serves. */
  async #watch(): Promise<void> {
    if (this.#watching || this.#recovering || this.#ended || this.#failed) return;
    this.#watching = true;
    try {
      const ctl = this.#ctl!;
      for (const key of [keys.run(this.#id), keys.tasks(this.#id), keys.results(this.#id)]) {
        ctl.command("PEXPIRE", key, RUN_TTL_MS).catch(() => {});
      }
      // The run's keys are gone (Redis lost them, or they expired while this process stalled):
      // the workers dropped the run, so publish it again and send what has no outcome again.
      if ((await ctl.command("EXISTS", keys.run(this.#id))) !== 1) {
        await this.#republish();
        return;
      }
      const pending = await ctl.command("XPENDING", keys.tasks(this.#id), GROUP, "-", "+", 1000);
      const byWorker = new Map<string, string[]>();
      for (const row of (pending as Reply[][]) ?? []) {
        const name = text(row[1])!;
        if (!byWorker.has(name)) byWorker.set(name, []);
        byWorker.get(name)!.push(text(row[0])!);
      }
      const names = [...byWorker.keys()];
      const alive = await Promise.all(names.map((n) => ctl.command("EXISTS", keys.worker(n))));
      const byEntry = new Map<string, Flight>();
      for (const flight of this.#flights.values()) {
        if (flight.entry !== undefined) byEntry.set(flight.entry, flight);
      }
      for (let i = 0; i < names.length; i++) {
        if (alive[i] === 1 || this.#ended) continue;
        const held = byWorker.get(names[i])!.map((id) => byEntry.get(id)).filter((f) =>
          f !== undefined
        );
        if (held.length === 0) continue;
        const acked = text(
          await ctl.command(
            ...recordArgs(this.#id, held.map((f) => ({ id: f.entry!, tid: f.tid }))),
          ),
        )!;
        const given = new Set(acked.split(",").filter(Boolean).map(Number));
        const lost = held.filter((f) => given.has(f.tid) && this.#flights.delete(f.tid));
        if (lost.length && !this.#ended) {
          this.#listener.lost(
            lost.map((f) => f.seq),
            new WorkerCrashError(
              this.#index(names[i]),
              `crunch worker ${
                names[i]
              } stopped renewing its heartbeat (killed, or cut off from Redis)`,
            ),
          );
        }
      }
      await this.#checkWorkers(ctl);
    } catch (error) {
      if (!this.#ended) await this.#trouble(error);
    } finally {
      this.#watching = false;
    }
  }

  /** Ends the run when tasks wait and no worker process has been alive for `waitForWorkers`. */
  async #checkWorkers(ctl: RedisClient): Promise<void> {
    const now = performance.now();
    if (this.#flights.size === 0) {
      this.#noWorkersSince = undefined;
      return;
    }
    if (now - this.#lastWorkerCheck < 2000) return;
    this.#lastWorkerCheck = now;
    const names = ((await ctl.command("SMEMBERS", keys.workers)) as Reply[]).map((n) => text(n)!);
    const alive = await Promise.all(names.map((n) => ctl.command("EXISTS", keys.worker(n))));
    const gone = names.filter((_, i) => alive[i] !== 1);
    if (gone.length) await ctl.command("SREM", keys.workers, ...gone);
    if (gone.length < names.length) {
      this.#noWorkersSince = undefined;
      return;
    }
    this.#noWorkersSince ??= now;
    const waited = now - this.#noWorkersSince;
    if (waited >= this.#options.waitForWorkers && !this.#ended && !this.#failed) {
      this.#failed = true;
      this.#listener.failed(
        new CrunchError(
          `no crunch worker is serving ${this.#display} (waited ${
            Math.round(waited / 1000)
          } s): start one with \`crunch worker --redis ${this.#display}\``,
        ),
      );
    }
  }

  /** Publishes the run again and sends every task without an outcome again (now, or by the caller). */
  async #republish(send = true): Promise<void> {
    await this.#publish();
    this.#lastId = "0";
    for (const flight of this.#flights.values()) {
      flight.entry = undefined;
      flight.counted = false;
    }
    if (send) { for (const flight of this.#flights.values()) this.#add(flight); }
  }

  /** A command failed: a lost connection is recovered; anything else ends the run. */
  #trouble(error: unknown): Promise<void> {
    if (this.#ended || this.#failed) return Promise.resolve();
    if (!(error instanceof RedisConnectionError)) {
      this.#failed = true;
      this.#listener.failed(error);
      return Promise.resolve();
    }
    this.#recovering ??= this.#reconnect().finally(() => this.#recovering = undefined);
    return this.#recovering;
  }

  /**
   * Connects again; when Redis lost the run (restarted without its data),
   * publishes it again and sends every task without an outcome again.
   */
  async #reconnect(): Promise<void> {
    this.#ctl?.close();
    this.#reader?.close();
    const deadline = performance.now() + this.#options.reconnectTimeout;
    for (;;) {
      if (this.#ended) return;
      try {
        const ctl = await RedisClient.connect(this.#options.url);
        const reader = await RedisClient.connect(this.#options.url);
        this.#ctl = ctl;
        this.#reader = reader;
        const kept = await ctl.command("EXISTS", keys.run(this.#id));
        if (kept !== 1) await this.#republish(false);
        break;
      } catch (error) {
        if (performance.now() > deadline) {
          this.#failed = true;
          this.#listener.failed(
            new CrunchError(
              `lost the connection to Redis at ${this.#display} and could not connect again ` +
                `within ${Math.round(this.#options.reconnectTimeout / 1000)} s: ${
                  (error as Error).message
                }`,
              { cause: error },
            ),
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    for (const flight of this.#flights.values()) if (flight.entry === undefined) this.#add(flight);
  }
}
