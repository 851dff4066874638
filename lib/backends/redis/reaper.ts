/**
 * The coordinator's watch over a run in Redis, a round every half second:
 * it renews the run's keys (they expire a few seconds after a coordinator
 * that died stops renewing them), publishes the run again when Redis lost
 * it, gives up the tasks of `crunch worker`s whose heartbeat is gone (with
 * the same script a worker records outcomes with, so exactly one side wins)
 * and fails a run no live worker has accepted for `waitForWorkers`: a
 * worker's refusal is that worker's (another may take the run), and while
 * no worker takes it the run says what it waits for, with each refusal.
 *
 * @module
 */

import { CrunchError } from "../../errors.ts";
import type { RedisClient, Reply } from "./client.ts";
import { text } from "./client.ts";
import { GROUP, keys, listArgs, recordArgs, type WorkerInfo } from "./wire.ts";

/**
 * A run's keys expire this long after its coordinator last renewed them, so
 * a coordinator that died leaves nothing behind for long.
 */
export const RUN_TTL_MS = 5_000;

/** How often the registry of worker processes is looked at. */
const WORKERS_EVERY_MS = 2000;

/** A task in Redis without an outcome. */
export interface Held {
  tid: number;
  /** Its entry in the task stream. */
  entry?: string;
}

/** What the reaper needs of the run it watches. */
export interface ReapedRun {
  /** True once the run is over (ended or failed). */
  readonly ended: boolean;
  /** Tasks without an outcome. */
  readonly inFlight: number;
  /** The tasks without an outcome that have an entry in the task stream, by entry. */
  entries(): Map<string, Held>;
  /** The worker `worker` stopped: `held` were given up in Redis and are lost. */
  giveUp(worker: string, held: Held[]): void;
  /** Publishes the run again and sends every task without an outcome again. */
  republish(): Promise<void>;
  /** Ends the run with `error`. */
  fail(error: unknown): void;
  /** What the run waits for now (no live worker accepts it), or undefined. */
  waiting(what: string | undefined): void;
  /** The connection for commands; undefined while it is being mended (no round then). */
  connection(): RedisClient | undefined;
  /** A command of a round failed. */
  trouble(error: unknown): Promise<void>;
}

/** How often the coordinator looks for tasks held by workers that stopped. */
const WATCH_MS = 500;

/** The watch over one run. */
export class Reaper {
  readonly #id: string;
  readonly #display: string;
  readonly #waitForWorkers: number;
  readonly #run: ReapedRun;
  #noWorkersSince: number | undefined;
  #lastWorkerCheck = 0;
  /** Why each worker process that refused the run refused it, by its name (and as shown). */
  readonly #refusals = new Map<string, { label: string; why: string }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #watching = false;
  /** Local workers of the live worker processes that accept the run, and tasks claimed. */
  #slots = 0;
  #claimed = 0;

  /** Watches run `id` at `display` (the URL without its password, for messages). */
  constructor(id: string, display: string, waitForWorkers: number, run: ReapedRun) {
    this.#id = id;
    this.#display = display;
    this.#waitForWorkers = waitForWorkers;
    this.#run = run;
  }

  /** Starts a round every half second. */
  start(): void {
    this.#timer = setInterval(() => this.#watch(), WATCH_MS);
  }

  /** Stops the rounds. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** One round, unless one is under way or the connection is being mended. */
  async #watch(): Promise<void> {
    const ctl = this.#run.connection();
    if (this.#watching || ctl === undefined || this.#run.ended) return;
    this.#watching = true;
    try {
      await this.round(ctl);
    } catch (error) {
      if (!this.#run.ended) await this.#run.trouble(error);
    } finally {
      this.#watching = false;
    }
  }

  /** One round, through `ctl`; a failed command rejects. */
  async round(ctl: RedisClient): Promise<void> {
    const id = this.#id;
    for (const key of [keys.run(id), keys.tasks(id), keys.results(id), keys.controls(id)]) {
      ctl.command("PEXPIRE", key, RUN_TTL_MS).catch(() => {});
    }
    ctl.command(...listArgs(id, RUN_TTL_MS / 1000)).catch(() => {});
    // The run's keys are gone (Redis lost them, or they expired while this process stalled):
    // the workers dropped the run, so publish it again and send what has no outcome again.
    if ((await ctl.command("EXISTS", keys.run(id))) !== 1) {
      await this.#run.republish();
      return;
    }
    await this.#reap(ctl);
    await this.#checkWorkers(ctl);
  }

  /** Gives up the tasks of worker processes whose heartbeat is gone. */
  async #reap(ctl: RedisClient): Promise<void> {
    const id = this.#id;
    const pending = await ctl.command("XPENDING", keys.tasks(id), GROUP, "-", "+", 1000);
    this.#claimed = (pending as Reply[] | null)?.length ?? 0;
    const byWorker = new Map<string, string[]>();
    for (const row of (pending as Reply[][]) ?? []) {
      const name = text(row[1])!;
      if (!byWorker.has(name)) byWorker.set(name, []);
      byWorker.get(name)!.push(text(row[0])!);
    }
    const names = [...byWorker.keys()];
    const alive = await Promise.all(names.map((n) => ctl.command("EXISTS", keys.worker(n))));
    const byEntry = this.#run.entries();
    for (let i = 0; i < names.length; i++) {
      if (alive[i] === 1 || this.#run.ended) continue;
      const held = byWorker.get(names[i])!.map((entry) => byEntry.get(entry)).filter((h) =>
        h !== undefined
      );
      if (held.length === 0) continue;
      const acked = text(
        await ctl.command(...recordArgs(id, held.map((h) => ({ id: h.entry!, tid: h.tid })))),
      )!;
      const given = new Set(acked.split(",").filter(Boolean).map(Number));
      this.#run.giveUp(names[i], held.filter((h) => given.has(h.tid)));
    }
  }

  /**
   * About how many local workers of the worker processes that accept the
   * run hold no task of it, as the last rounds saw (a worker process may be
   * busy with another run: then fewer).
   */
  idle(): number {
    return Math.max(0, this.#slots - this.#claimed);
  }

  /** Worker process `name` (shown as `label`) refused the run: looked at in the next round. */
  refused(name: string, label: string, why: string): void {
    this.#refusals.set(name, { label, why });
    this.#lastWorkerCheck = 0;
  }

  /**
   * Ends the run when tasks wait and no live worker process has accepted it
   * for `waitForWorkers`; says what it waits for meanwhile.
   */
  async #checkWorkers(ctl: RedisClient): Promise<void> {
    const now = performance.now();
    if (this.#run.inFlight === 0) {
      this.#noWorkersSince = undefined;
      this.#run.waiting(undefined);
      return;
    }
    if (now - this.#lastWorkerCheck < WORKERS_EVERY_MS) return;
    this.#lastWorkerCheck = now;
    const names = ((await ctl.command("SMEMBERS", keys.workers)) as Reply[]).map((n) => text(n)!);
    const infos = await Promise.all(names.map((n) => ctl.command("GET", keys.worker(n))));
    const gone = names.filter((_, i) => infos[i] === null);
    if (gone.length) await ctl.command("SREM", keys.workers, ...gone);
    const live = names.filter((_, i) => infos[i] !== null);
    this.#slots = names.reduce((sum, name, i) => {
      if (infos[i] === null || this.#refusals.has(name)) return sum;
      return sum + ((JSON.parse(text(infos[i])!) as WorkerInfo).workers ?? 1);
    }, 0);
    if (live.some((name) => !this.#refusals.has(name))) {
      this.#noWorkersSince = undefined;
      this.#run.waiting(undefined);
      return;
    }
    this.#noWorkersSince ??= now;
    const waited = now - this.#noWorkersSince;
    const refusals = live.map((name) => this.#refusals.get(name)!)
      .map(({ label, why }) => `crunch worker ${label} refused the run: ${why}`);
    if (waited < this.#waitForWorkers || this.#run.ended) {
      const limit = Math.round(this.#waitForWorkers / 1000);
      this.#run.waiting(
        (refusals.length === 0
          ? `waiting for a crunch worker: none is serving ${this.#display} (start one with ` +
            `\`crunch worker --redis ${this.#display}\`)`
          : `waiting for a crunch worker that accepts the run: ${refusals.join("; ")}`) +
          `; the run fails if none does within ${limit} s`,
      );
      return;
    }
    const seconds = Math.round(waited / 1000);
    this.#run.fail(
      new CrunchError(
        refusals.length === 0
          ? `no crunch worker is serving ${this.#display} (waited ${seconds} s): start one ` +
            `with \`crunch worker --redis ${this.#display}\``
          : `no crunch worker at ${this.#display} accepts the run (waited ${seconds} s): ` +
            refusals.join("; "),
      ),
    );
  }
}
