/**
 * `crunch worker --redis URL`: a process that takes tasks of crunch runs
 * from Redis Streams and runs them on workers of its own (threads or
 * processes, the local backend's), run after run, until it is stopped.
 *
 * For each run it finds in Redis it checks the plug-in against its
 * allow-list and against the hash the coordinator sent, starts its workers
 * with the module and spec (kept for the next run with the same ones),
 * claims tasks from the run's consumer group as its workers have room, and
 * records each task's outcome with the Lua script of `lib/redis/wire.ts`:
 * results once, or the loss of the tasks a worker held when it died. While
 * it lives it renews a heartbeat key, which is how the coordinator tells a
 * busy worker process from a dead one.
 *
 * @module
 */

import { deserialize } from "node:v8";
import { count } from "../../numbers.ts";
import type { Backend } from "../backend.ts";
import { startBackend } from "../start.ts";
import { workerOptionsEnabled } from "../local/sandbox.ts";
import { configNeeded } from "../plugin_config.ts";
import { RedisClient, RedisConnectionError, type Reply, text } from "./client.ts";
import { defaultAllow, digest, moduleMismatch, moduleNotAllowed, TaskGuard } from "./admission.ts";
import type { RunKey } from "./signing.ts";
import { type Outcome, RunServer, type ServerContext } from "./run_server.ts";
import { entryFields, keys, noteArgs, type RunMeta, runsArgs, type WorkerInfo } from "./wire.ts";

const decoder = new TextDecoder();

/** Settings of a `crunch worker` process. */
export interface ConsumerOptions {
  /** `redis://[user[:password]@]host[:port][/db]`, or `rediss://`. */
  url: string;
  /** Workers (threads or processes) in this process; default: the cores. */
  workers?: number;
  /** Overrides what the coordinator asks for: "thread" or "process". */
  isolation?: "thread" | "process";
  /**
   * URL prefixes of the plug-ins this process may run. Default: modules
   * under its current folder (`file:///that/folder/`).
   */
  allowModules?: string[];
  /**
   * Paths (files or folders) of the inputs this process may read byte ranges
   * of; default: any the coordinator names, each checked to be its file.
   */
  allowInputs?: string[];
  /**
   * Headers this process sends with every request of an input behind an
   * http(s) URL (the coordinator's never reach Redis).
   */
  headers?: [string, string][];
  /** The shared key runs must be signed with; default: none, unless the environment has one. */
  key?: RunKey;
  /** This process's consumer name; default `host-pid`. */
  name?: string;
  /** How long the heartbeat lasts without renewal, in ms (default 5000): the time to notice a death. */
  heartbeatMs?: number;
  /** Aborting it stops taking tasks; the process finishes those it holds, then returns. */
  signal?: AbortSignal;
  /** Where status lines go (never data or specs); default: standard error. */
  log?: (line: string) => void;
}

/** The plug-in workers of this process, kept from one run to the next with the same module and spec. */
interface Loaded {
  key: string;
  backend: Backend;
}

/** Serves crunch runs from Redis until `options.signal` aborts. */
export async function serveRedis(options: ConsumerOptions): Promise<void> {
  await new Consumer(options).serve();
}

class Consumer implements ServerContext {
  readonly #options: ConsumerOptions;
  readonly #name: string;
  readonly #allow: string[];
  readonly #heartbeatMs: number;
  readonly #log: (line: string) => void;
  /** Runs this process will not serve (refused), by id. */
  readonly #refused = new Set<string>();
  /** Listed runs found gone, not looked at again until then (their listing lapses). */
  readonly #passed = new Map<string, number>();
  /** Outcomes not yet written (the connection dropped): written after reconnecting. */
  #unwritten: Outcome[] = [];
  #ctl: RedisClient | undefined;
  #block: RedisClient | undefined;
  #loaded: Loaded | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: ConsumerOptions) {
    this.#options = options;
    // This start of the process is an incarnation of its name: a worker restarted under the same
    // name (as service managers and pods do) must not inherit the tasks the last one held, which
    // its heartbeat would keep from ever being given up.
    const incarnation = crypto.randomUUID().slice(0, 8);
    this.label = options.name ?? `${Deno.hostname()}-${Deno.pid}`;
    this.#name = `${this.label}#${incarnation}`;
    this.#allow = options.allowModules?.length ? options.allowModules : defaultAllow(Deno.cwd());
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#log = options.log ?? ((line) => console.error(`crunch worker: ${line}`));
    this.guard = new TaskGuard(options.key, options.allowInputs);
    this.headers = options.headers;
  }

  /** What every run and task is checked against before it runs. */
  readonly guard: TaskGuard;
  readonly headers?: [string, string][];
  /** The name this process goes by in messages. */
  readonly label: string;

  get #stopping(): boolean {
    return this.#options.signal?.aborted ?? false;
  }

  async serve(): Promise<void> {
    const wake = () => this.#wake?.();
    this.#options.signal?.addEventListener("abort", wake);
    await this.#connect(true);
    this.#log(
      `${this.label} (${this.#name}) serving ${this.#ctl!.display} with ${
        count(this.#options.workers ?? navigator.hardwareConcurrency, "worker")
      }; modules allowed under ${this.#allow.join(", ")}`,
    );
    try {
      while (!this.#stopping) {
        let runs: string[];
        try {
          const now = performance.now();
          runs = ((await this.#ctl!.command(...runsArgs())) as Reply[])
            .map((r) => text(r)!)
            .filter((id) => !this.#refused.has(id) && !((this.#passed.get(id) ?? 0) > now))
            .sort();
        } catch (error) {
          await this.#recover(error);
          continue;
        }
        if (runs.length === 0) {
          await this.#sleep(250);
          continue;
        }
        for (const id of runs) {
          if (this.#stopping) break;
          try {
            await this.#serveRun(id);
          } catch (error) {
            await this.#recover(error);
          }
        }
      }
    } finally {
      this.#options.signal?.removeEventListener("abort", wake);
      clearInterval(this.#heartbeat);
      await this.#writeUnwritten();
      try {
        await this.#ctl?.command("DEL", keys.worker(this.#name));
        await this.#ctl?.command("SREM", keys.workers, this.#name);
      } catch {
        // Redis is gone; the heartbeat expires by itself
      }
      this.#ctl?.close();
      this.#block?.close();
      if (this.#loaded) await this.#loaded.backend.close().catch(() => {});
      this.#log(`${this.label} stopped`);
    }
  }

  /** Connects (again), announces this process and starts its heartbeat. */
  async #connect(first: boolean): Promise<void> {
    this.#ctl?.close();
    this.#block?.close();
    for (;;) {
      try {
        this.#ctl = await RedisClient.connect(this.#options.url);
        this.#block = await RedisClient.connect(this.#options.url);
        await this.#beat();
        break;
      } catch (error) {
        // At start a wrong URL or password is the user's to fix: say so at once.
        if (first || !(error instanceof RedisConnectionError) || this.#stopping) throw error;
        await this.#sleep(250);
      }
    }
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(
      () => this.#beat().catch(() => {}),
      Math.max(50, this.#heartbeatMs / 3),
    );
    await this.#writeUnwritten();
  }

  /** The heartbeat, and the registry entry (again: a FLUSHALL or a lost key must not hide it). */
  async #beat(): Promise<void> {
    const info: WorkerInfo = {
      host: Deno.hostname(),
      pid: Deno.pid,
      workers: this.#options.workers ?? navigator.hardwareConcurrency,
    };
    const ctl = this.#ctl!;
    await Promise.all([
      ctl.command("SET", keys.worker(this.#name), JSON.stringify(info), "PX", this.#heartbeatMs),
      ctl.command("SADD", keys.workers, this.#name),
    ]);
  }

  async #recover(error: unknown): Promise<void> {
    if (!(error instanceof RedisConnectionError)) {
      this.#log(`error: ${(error as Error).message}`);
      await this.#sleep(1000);
      return;
    }
    if (this.#stopping) return;
    this.#log(`${error.message}; connecting again`);
    await this.#connect(false).catch(() => {});
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** Says why this process will not run `id`; the coordinator ends the run with it. */
  async #refuse(id: string, why: string): Promise<void> {
    this.#refused.add(id);
    this.#log(`refused run ${id}: ${why}`);
    await this.#ctl!.command(
      ...noteArgs(id, ["kind", "refused", "worker", this.label, "name", this.#name, "error", why]),
    );
  }

  /** The local workers for `meta`'s module and spec, started if need be; a string says why not. */
  async #workers(id: string, meta: RunMeta, spec: Uint8Array): Promise<Backend | string> {
    const refusal = moduleNotAllowed(meta.module, this.#allow) ??
      await moduleMismatch(meta.module, meta.hash);
    if (refusal !== undefined) return refusal;
    // Sandboxed threads need Deno's worker-options feature; without it, processes take the flags.
    // Threads share this process's import map: a plug-in whose deno.json maps its imports
    // otherwise runs on processes, which run under that config.
    const config = configNeeded(meta.module);
    const isolation = (meta.permissions && workerOptionsEnabled() === false) || config
      ? "process"
      : this.#options.isolation ?? meta.isolation;
    if (config && (this.#options.isolation ?? meta.isolation) !== "process") {
      this.#log(`run ${id}: ${meta.module} maps its imports in ${config}: on worker processes`);
    }
    // Keyed by a hash: a spec of any size makes a key of 64 characters.
    const key = JSON.stringify([
      meta.module,
      meta.hash,
      await digest(spec),
      isolation,
      meta.permissions,
    ]);
    if (this.#loaded?.key === key) return this.#loaded.backend;
    if (this.#loaded) {
      await this.#loaded.backend.close().catch(() => {});
      this.#loaded = undefined;
    }
    this.#log(`run ${id}: loading ${meta.module}`);
    try {
      const backend = await startBackend(meta.module, {
        spec: deserialize(spec),
        workers: this.#options.workers ?? navigator.hardwareConcurrency,
        isolation,
        permissions: meta.permissions,
        maxWorkerMemory: meta.maxWorkerMemory,
        consoleToStderr: true,
      });
      this.#loaded = { key, backend };
      return backend;
    } catch (error) {
      return (error as Error).message;
    }
  }

  async #serveRun(id: string): Promise<void> {
    const ctl = this.#ctl!;
    const flat = await ctl.command("HGETALL", keys.run(id));
    const fields = entryFields(flat);
    const metaText = fields.get("meta");
    const spec = fields.get("spec");
    if (metaText === undefined || spec === undefined) {
      // Ended, or its coordinator died and its keys expired: its listing lapses by itself (only
      // its coordinator lists a run, so a stall of Redis cannot leave it published but unlisted).
      this.#passed.set(id, performance.now() + 1000);
      return;
    }
    const sig = fields.get("sig");
    const forged = await this.guard.run(
      id,
      decoder.decode(metaText),
      spec,
      sig && decoder.decode(sig),
    );
    if (forged !== undefined) return await this.#refuse(id, forged);
    const meta = JSON.parse(decoder.decode(metaText)) as RunMeta;
    const backend = await this.#workers(id, meta, spec);
    if (typeof backend === "string") return await this.#refuse(id, backend);
    await new RunServer(this, id, meta, backend, fields.get("columns")).serve();
  }

  // --- the ServerContext a RunServer uses -----------------------------------------

  get name(): string {
    return this.#name;
  }
  get ctl(): RedisClient {
    return this.#ctl!;
  }
  get block(): RedisClient {
    return this.#block!;
  }
  get stopping(): boolean {
    return this.#stopping;
  }
  log(line: string): void {
    this.#log(line);
  }
  /** Waits `ms`, or until {@linkcode wake} (or the stop signal) ends the wait. */
  sleep(ms: number): Promise<void> {
    return this.#sleep(ms);
  }
  /** Ends the current wait: something happened (a task finished, a worker is ready). */
  wake(): void {
    this.#wake?.();
  }
  refuse(id: string, why: string): Promise<void> {
    return this.#refuse(id, why);
  }
  recover(error: unknown): Promise<void> {
    return this.#recover(error);
  }
  /** The workers broke (one could not be replaced): start afresh at the next run. */
  drop(backend: Backend): void {
    if (this.#loaded?.backend === backend) {
      this.#loaded = undefined;
      backend.terminate();
    }
  }

  /** Writes an outcome; one that cannot be written now is written after reconnecting. */
  write(outcome: Outcome): void {
    this.#ctl!.command(...outcome).catch((error) => {
      if (error instanceof RedisConnectionError) this.#unwritten.push(outcome);
      else this.#log(`could not record an outcome: ${(error as Error).message}`);
    });
  }

  async #writeUnwritten(): Promise<void> {
    const outcomes = this.#unwritten;
    this.#unwritten = [];
    for (const outcome of outcomes) {
      try {
        await this.#ctl!.command(...outcome);
      } catch (error) {
        if (error instanceof RedisConnectionError) this.#unwritten.push(outcome);
      }
    }
  }
}
