/**
 * One run through Redis, on the coordinator's side: every task sent goes on
 * the run's task stream (at most the high-water mark at once), its outcome
 * is read back from the run's result stream and handed to the engine under
 * the engine's number, and a connection that drops is made again (the run
 * published again and every task without an outcome sent again when Redis
 * lost them). A {@linkcode Reaper} gives up the tasks of workers that died.
 *
 * @module
 */

import { CrunchError, WorkerCrashError } from "../../errors.ts";
import { encodeFrames } from "../../wire/frames.ts";
import type { Settings } from "./coordinator.ts";
import type { BackendListener, BackendRun, RunUpdate, Task } from "../backend.ts";
import { RedisClient, RedisConnectionError, RedisReplyError, type Reply, text } from "./client.ts";
import { Outcomes } from "./outcomes.ts";
import { type Control, sendControl } from "./controls.ts";

const CANCEL: Control = { kind: "cancel" };
const LOST_BY_REDIS = new WorkerCrashError(
  0,
  "Redis lost the run's tasks while they ran (restarted without its data)",
);
import { type SentTask, SentTasks } from "./sent_tasks.ts";
import { type ReapedRun, Reaper, RUN_TTL_MS } from "./reaper.ts";
import type { RunKey } from "./signing.ts";
import { GROUP, keys, listArgs, type RunMeta, streamEntries } from "./wire.ts";

/** One run through Redis. */
export class RedisRun implements BackendRun, ReapedRun {
  readonly #id: string;
  readonly #meta: RunMeta;
  readonly #spec: Uint8Array;
  readonly #options: Settings;
  readonly #display: string;
  readonly #listener: BackendListener;
  readonly #flights = new SentTasks();
  #ctl: RedisClient | undefined;
  #reader: RedisClient | undefined;
  #columns: string | undefined;
  #lastId = "0";
  #ended = false;
  #failed = false;
  #recovering: Promise<void> | undefined;
  readonly #reaper: Reaper;
  readonly #key: RunKey | undefined;
  /** The last XADD of a task (each waits for the one before, to keep their order). */
  #adding: Promise<void> = Promise.resolve();
  readonly #outcomes: Outcomes;
  readonly queues = true; // tasks wait in the stream until a crunch worker starts them

  constructor(
    id: string,
    meta: RunMeta,
    spec: Uint8Array,
    options: Settings,
    display: string,
    listener: BackendListener,
    key?: RunKey,
  ) {
    this.#key = key;
    this.#id = id;
    this.#meta = meta;
    this.#spec = spec;
    this.#options = options;
    this.#display = display;
    this.#listener = listener;
    this.#reaper = new Reaper(id, display, options.waitForWorkers, this);
    this.#outcomes = new Outcomes(this.#flights, listener, {
      refused: (name, label, why) => this.#reaper.refused(name, label, why),
      resend: (tasks) => this.#resend(tasks),
    });
  }

  /** Connects, publishes the run for the workers, and starts reading outcomes. */
  async open(): Promise<void> {
    this.#ctl = await RedisClient.connect(this.#options.url);
    this.#reader = await RedisClient.connect(this.#options.url);
    await this.#publish();
    this.#readLoop();
    this.#reaper.start();
  }

  async #publish(): Promise<void> {
    const ctl = this.#ctl!;
    const meta = JSON.stringify(this.#meta);
    const fields: (string | Uint8Array)[] = ["meta", meta, "spec", this.#spec];
    // Workers that hold the key run only what it signs.
    if (this.#key) fields.push("sig", await this.#key.sign(["run", this.#id, meta, this.#spec]));
    if (this.#columns !== undefined) fields.push("columns", this.#columns);
    await publish(ctl, this.#id, fields);
  }

  room(): number {
    if (this.#ended || this.#failed) return 0;
    return Math.max(0, this.#options.highWater - this.#flights.size);
  }

  send(task: Task, _transfer?: ArrayBuffer[]): void {
    // Throws a DataCloneError for what cannot be sent. A worker runs it under its tid.
    const frame = encodeFrames([{ type: "task", run: 0, task }]);
    this.#add(this.#flights.add(task.id, frame));
  }

  /**
   * Puts a task on the task stream, in the order sent (each XADD waits for
   * the one before, and for a reconnection under way): once, under its
   * current tid, and only while it has no outcome.
   */
  #add(flight: SentTask): void {
    this.#adding = this.#adding.then(async () => {
      while (this.#recovering) await this.#recovering;
      const { tid } = flight;
      if (this.#ended || this.#flights.get(tid) !== flight || flight.entry !== undefined) return;
      const fields: (string | number | Uint8Array)[] = ["tid", tid, "frame", flight.frame];
      const columns = this.#columns;
      if (columns !== undefined) fields.push("columns", columns);
      if (this.#key) {
        const parts = ["task", this.#id, String(tid), flight.frame, columns ?? ""];
        fields.push("sig", await this.#key.sign(parts));
      }
      const id = await this.#ctl!.command("XADD", keys.tasks(this.#id), "*", ...fields);
      if (flight.tid === tid) flight.entry = text(id);
    }).catch((error) => this.#trouble(error));
  }

  update(change: RunUpdate): void {
    if (change.outputColumns === undefined) return;
    this.#columns = JSON.stringify(change.outputColumns);
    this.#ctl?.command("HSET", keys.run(this.#id), "columns", this.#columns).catch((error) =>
      this.#trouble(error)
    );
  }

  /** About how many local workers of the crunch workers hold no task of the run. */
  idle = (): number => this.#reaper.idle();
  split = (id: number, parts: number): void => void this.#control(id, { kind: "split", parts });
  /** Its crunch worker stops it (or none starts it); nothing more of it is taken. */
  cancel(id: number): void {
    const task = this.#control(id, CANCEL);
    if (task) this.#flights.delete(task.tid);
  }

  /** Tells the crunch worker holding task `id` to do `control`. */
  #control(id: number, control: Control): SentTask | undefined {
    const task = this.#flights.all().find((t) => t.seq === id);
    if (task === undefined || this.#ctl === undefined || this.#ended) return task;
    sendControl(this.#ctl, this.#id, task.tid, control, task.entry).catch((e) => this.#trouble(e));
    return task;
  }

  end(_cancel: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#reaper.stop();
    this.#reader?.close();
    const ctl = this.#ctl;
    if (ctl === undefined || !ctl.connected) return;
    // Workers see the run gone (its group and meta), drop what they hold of it, and move on.
    Promise.all([
      ctl.command("ZREM", keys.runs, this.#id),
      ctl.command(
        "DEL",
        ...[keys.run, keys.tasks, keys.results, keys.controls].map((k) => k(this.#id)),
      ),
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
        this.#outcomes.take(fields);
      }
      this.#ctl?.command("XDEL", keys.results(this.#id), ...entries.map((e) => e.id)).catch(
        (error) => this.#trouble(error),
      );
    }
  }

  // --- what the reaper uses ----------------------------------------------------

  /** The connection for commands; undefined while it is being mended. */
  connection(): RedisClient | undefined {
    return this.#recovering ? undefined : this.#ctl;
  }

  /** A command of the reaper's failed. */
  trouble(error: unknown): Promise<void> {
    return this.#trouble(error);
  }

  get ended(): boolean {
    return this.#ended || this.#failed;
  }

  /** The tasks without an outcome that have an entry in the task stream, by entry. */
  entries(): Map<string, SentTask> {
    return this.#flights.byEntry();
  }

  get inFlight(): number {
    return this.#flights.size;
  }

  /** The worker process `worker` stopped: the tasks it held (given up in Redis) are lost. */
  giveUp(worker: string, flights: SentTask[]): void {
    const lost = flights.filter((f) => this.#flights.delete(f.tid));
    if (lost.length === 0 || this.#ended) return;
    const index = this.#outcomes.workerIndex(worker);
    this.#listener.lost(lost.map((f) => f.seq), stopped(index, worker));
  }

  /** Ends the run with `error`. */
  fail(error: unknown): void {
    if (this.#ended || this.#failed) return;
    this.#failed = true;
    this.#listener.failed(error);
  }

  /** Tasks a refusing worker gave back unstarted go on the task stream again, under new tids. */
  #resend(tasks: SentTask[]): void {
    if (this.#ended) return;
    for (const flight of tasks) this.#add(this.#flights.renew(flight));
  }

  /** What the run waits for, when it waits (no worker accepts it), for the progress report. */
  waiting(what: string | undefined): void {
    this.#listener.waiting(what);
  }

  /** Publishes the run again and sends every task without an outcome again. */
  republish(): Promise<void> {
    return this.#republish();
  }

  /** Publishes the run again and sends every task without an outcome again (now, or by the caller). */
  async #republish(send = true): Promise<void> {
    await this.#publish();
    this.#lastId = "0";
    // A task some of whose results came is given back to the engine, which sends it again
    // from its first record not yet reported; sent as it was, it would repeat the others.
    const partial = this.#flights.all().filter((flight) => flight.delivered);
    for (const flight of partial) this.#flights.delete(flight.tid);
    if (partial.length && !this.#ended) {
      this.#listener.lost(partial.map((f) => f.seq), LOST_BY_REDIS);
    }
    // The others go again under new tids: whatever a worker still holding one of them sends
    // under its old tid (a slow task's pieces, its outcome) is dropped as stale.
    const again = this.#flights.all();
    for (const flight of again) this.#flights.renew(flight);
    if (send) { for (const flight of again) this.#add(flight); }
  }

  /** A command failed: a lost connection is recovered; anything else ends the run. */
  #trouble(error: unknown): Promise<void> {
    if (this.#ended || this.#failed) return Promise.resolve();
    const kind = troubleOf(error, this.#display, this.#options.highWater);
    if (kind === "lost") {
      // The run's stream vanished under a command (a FLUSHALL): Redis lost its data, as a
      // restart without it loses it. Published again, and what has no outcome sent again.
      this.#recovering ??= this.#republish().catch((again) => this.fail(again)).finally(() =>
        this.#recovering = undefined
      );
      return this.#recovering;
    }
    if (kind !== "connection") {
      this.fail(kind);
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
          const { reconnectTimeout } = this.#options;
          return this.#listener.failed(unreachable(this.#display, reconnectTimeout, error));
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    for (const flight of this.#flights.all()) if (flight.entry === undefined) this.#add(flight);
  }
}

/**
 * What a failed command means: Redis lost the run ("lost"), the connection
 * dropped ("connection"), or the error that ends the run (Redis out of
 * memory says what to lower).
 */
function troubleOf(error: unknown, display: string, highWater: number): unknown {
  if (error instanceof RedisReplyError && error.code === "NOGROUP") return "lost";
  if (error instanceof RedisConnectionError) return "connection";
  if (error instanceof RedisReplyError && error.code === "OOM") {
    return new CrunchError(
      `Redis at ${display} refused a write for lack of memory (its maxmemory): lower ` +
        `--high-water (the tasks in Redis at once, now ${highWater}), or give Redis more ` +
        `memory (${error.message})`,
      { cause: error },
    );
  }
  return error;
}

/** The death of crunch worker `worker` (number `index` in errors), its heartbeat gone. */
function stopped(index: number, worker: string): WorkerCrashError {
  const name = worker.replace(/#[^#]*$/, "");
  return new WorkerCrashError(
    index,
    `crunch worker ${name} stopped renewing its heartbeat (killed, or cut off from Redis)`,
  );
}

/** The error of a run whose Redis at `display` could not be reached again within `ms`. */
function unreachable(display: string, ms: number, error: unknown): CrunchError {
  return new CrunchError(
    `lost the connection to Redis at ${display} and could not connect again within ` +
      `${Math.round(ms / 1000)} s: ${(error as Error).message}`,
    { cause: error },
  );
}

/** Rethrows an error, unless it says the group exists already. */
function busyGroup(error: unknown): void {
  if (!(error instanceof RedisReplyError && error.code === "BUSYGROUP")) throw error;
}

/**
 * Publishes run `id` with its hash's `fields`: every key of the run is born
 * with its time to live, so a coordinator killed before its first watch
 * round leaves nothing that lives on (a worker would serve such a run
 * forever).
 */
async function publish(ctl: RedisClient, id: string, fields: (string | Uint8Array)[]) {
  await Promise.all([
    ctl.command("HSET", keys.run(id), ...fields),
    // A stream left from before (its keys lapse one by one) keeps its group.
    ctl.command("XGROUP", "CREATE", keys.tasks(id), GROUP, "$", "MKSTREAM").catch(busyGroup),
    ctl.command("XGROUP", "CREATE", keys.results(id), "coordinator", "$", "MKSTREAM").catch(
      busyGroup,
    ),
    ...[keys.run(id), keys.tasks(id), keys.results(id)].map((key) =>
      ctl.command("PEXPIRE", key, RUN_TTL_MS)
    ),
    ctl.command(...listArgs(id, RUN_TTL_MS / 1000)),
  ]);
}
