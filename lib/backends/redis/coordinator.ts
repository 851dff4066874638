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
import { CrunchError } from "../../errors.ts";
import { RedisClient } from "./client.ts";
import { moduleHash, type RunMeta } from "./wire.ts";
import type { RedisOptions } from "../../options.ts";
import type { Backend, BackendListener, BackendRun, RunLimits, RunSettings } from "../backend.ts";
import { RedisRun } from "./redis_run.ts";
import { RunKey } from "./signing.ts";

/** The Redis options with their defaults, the key aside. */
export type Settings = Required<Omit<RedisOptions, "key">>;

/** The pool options a Redis run sends to its workers. */
export interface RemotePoolOptions {
  spec?: unknown;
  /** How finely the input is cut: tasks are made as if for this many workers. */
  workers: number;
  isolation?: "thread" | "process";
  permissions?: Deno.PermissionOptions;
  maxWorkerMemory?: number;
}

const DEFAULT_HIGH_WATER = 64;
const DEFAULT_WAIT_MS = 60_000;
const DEFAULT_RECONNECT_MS = 60_000;

/** Workers on other machines (or this one), through Redis. */
export class RedisBackend implements Backend {
  readonly #options: Settings;
  readonly #key: RunKey | undefined;
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
    options: Settings,
    key: RunKey | undefined,
    module: string,
    hash: string,
    spec: Uint8Array,
    pool: RemotePoolOptions,
    display: string,
  ) {
    this.#options = options;
    this.#key = key;
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
    const options: Settings = {
      url: redis.url,
      highWater: redis.highWater ?? DEFAULT_HIGH_WATER,
      waitForWorkers: redis.waitForWorkers ?? DEFAULT_WAIT_MS,
      reconnectTimeout: redis.reconnectTimeout ?? DEFAULT_RECONNECT_MS,
    };
    const key = redis.key === undefined
      ? await RunKey.fromEnvironment()
      : await RunKey.from(redis.key);
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
    return new RedisBackend(options, key, module, hash, serialize(pool.spec), pool, display);
  }

  /** Workers the input is cut for (how many serve it is up to the `crunch worker`s). */
  get size(): number {
    return this.#pool.workers;
  }

  /** Tasks in Redis at most: the high-water mark. */
  get capacity(): number {
    return this.#options.highWater;
  }

  async begin(
    settings: RunSettings,
    limits: RunLimits,
    listener: BackendListener,
  ): Promise<BackendRun> {
    if (this.#closed) throw new CrunchError("the workers are closed");
    // A clock cannot be shared across machines: each worker spaces its own calls by its share.
    const { rate } = settings;
    // Headers (a bearer token, say) never go into Redis: crunch workers take their own --header.
    const sent: RunSettings = { ...settings, http: { timeoutMs: settings.http?.timeoutMs } };
    if (rate) sent.rate = { intervalUs: rate.perWorkerUs, perWorkerUs: rate.perWorkerUs };
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
    const run = new RedisRun(
      id,
      meta,
      this.#spec,
      this.#options,
      this.#display,
      listener,
      this.#key,
    );
    await run.open();
    this.#run = run;
    return run;
  }

  close(): Promise<string[]> {
    this.#closed = true;
    this.#run?.end(true);
    return Promise.resolve([]);
  }

  terminate(): Promise<void> {
    this.#closed = true;
    this.#run?.end(true);
    return Promise.resolve();
  }
}
