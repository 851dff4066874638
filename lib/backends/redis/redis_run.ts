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
import type { RedisOptions } from "../../options.ts";
import type { BackendListener, BackendRun, RunUpdate, Task } from "../backend.ts";
import { RedisClient, RedisConnectionError, type Reply, text } from "./client.ts";
import { Outcomes, type SentTask } from "./outcomes.ts";
import { type ReapedRun, Reaper } from "./reaper.ts";
import { GROUP, keys, type RunMeta, streamEntries } from "./wire.ts";

/** How often the coordinator looks for tasks held by workers that stopped. */
const WATCH_MS = 500;

/** One run through Redis. */
export class RedisRun implements BackendRun, ReapedRun {
  readonly #id: string;
  readonly #meta: RunMeta;
  readonly #spec: Uint8Array;
  readonly #options: Required<RedisOptions>;
  readonly #display: string;
  readonly #listener: BackendListener;
  readonly #flights = new Map<number, SentTask>();
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
  readonly #reaper: Reaper;
  readonly #outcomes: Outcomes;

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
    this.#reaper = new Reaper(id, display, options.waitForWorkers, this);
    this.#outcomes = new Outcomes(this.#flights, listener, (error) => this.fail(error));
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

  send(task: Task, _transfer?: ArrayBuffer[]): void {
    const tid = this.#nextTid++;
    // Numbered by its tid in Redis; throws a DataCloneError for what cannot be sent.
    const frame = encodeFrames([{ type: "task", run: 0, task: { ...task, id: tid } }]);
    const flight: SentTask = { tid, seq: task.id, frame };
    this.#flights.set(flight.tid, flight);
    if (!this.#recovering) this.#add(flight);
  }

  #add(flight: SentTask): void {
    const fields: (string | number | Uint8Array)[] = ["tid", flight.tid, "frame", flight.frame];
    if (this.#columns !== undefined) fields.push("columns", this.#columns);
    this.#ctl!.command("XADD", keys.tasks(this.#id), "*", ...fields).then(
      (id) => flight.entry = text(id),
      (error) => this.#trouble(error),
    );
  }

  update(change: RunUpdate): void {
    if (change.outputColumns === undefined) return;
    this.#columns = JSON.stringify(change.outputColumns);
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
        this.#outcomes.take(fields);
      }
      this.#ctl?.command("XDEL", keys.results(this.#id), ...entries.map((e) => e.id)).catch(
        (error) => this.#trouble(error),
      );
    }
  }

  /** One round of the reaper, unless one is under way or the connection is being mended. */
  async #watch(): Promise<void> {
    if (this.#watching || this.#recovering || this.#ended || this.#failed) return;
    this.#watching = true;
    try {
      await this.#reaper.round(this.#ctl!);
    } catch (error) {
      if (!this.#ended) await this.#trouble(error);
    } finally {
      this.#watching = false;
    }
  }

  // --- what the reaper uses ----------------------------------------------------

  get ended(): boolean {
    return this.#ended || this.#failed;
  }

  /** The tasks without an outcome that have an entry in the task stream, by entry. */
  entries(): Map<string, SentTask> {
    const byEntry = new Map<string, SentTask>();
    for (const flight of this.#flights.values()) {
      if (flight.entry !== undefined) byEntry.set(flight.entry, flight);
    }
    return byEntry;
  }

  get inFlight(): number {
    return this.#flights.size;
  }

  /** The worker process `worker` stopped: the tasks it held (given up in Redis) are lost. */
  giveUp(worker: string, flights: SentTask[]): void {
    const lost = flights.filter((f) => this.#flights.delete(f.tid));
    if (lost.length === 0 || this.#ended) return;
    this.#listener.lost(
      lost.map((f) => f.seq),
      new WorkerCrashError(
        this.#outcomes.workerIndex(worker),
        `crunch worker ${worker} stopped renewing its heartbeat (killed, or cut off from Redis)`,
      ),
    );
  }

  /** Ends the run with `error`. */
  fail(error: unknown): void {
    if (this.#ended || this.#failed) return;
    this.#failed = true;
    this.#listener.failed(error);
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
    const partial = [...this.#flights.values()].filter((flight) => flight.delivered);
    for (const flight of partial) this.#flights.delete(flight.tid);
    if (partial.length && !this.#ended) {
      this.#listener.lost(
        partial.map((flight) => flight.seq),
        new WorkerCrashError(
          0,
          "Redis lost the run's tasks while they ran (restarted without its data)",
        ),
      );
    }
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
