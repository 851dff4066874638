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
import type { Backend, BackendListener, BackendRun, TaskMessage } from "../backend.ts";
import { startBackend } from "../start.ts";
import { fingerprintOf } from "../../wire/fingerprint.ts";
import { workerOptionsEnabled } from "../local/sandbox.ts";
import { concat, decodeFrames, encodeFrames } from "../../wire/frames.ts";
import type { CountMessage, PieceMessage } from "../../wire/protocol.ts";
import { RedisClient, RedisConnectionError, RedisReplyError, type Reply, text } from "./client.ts";
import {
  entryFields,
  GROUP,
  keys,
  moduleHash,
  noteArgs,
  recordArgs,
  type RunMeta,
  streamEntries,
  type WorkerInfo,
} from "./wire.ts";

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
  /** This process's consumer name; default `host-pid`. */
  name?: string;
  /** How long the heartbeat lasts without renewal, in ms (default 5000): the time to notice a death. */
  heartbeatMs?: number;
  /** Aborting it stops taking tasks; the process finishes those it holds, then returns. */
  signal?: AbortSignal;
  /** Where status lines go (never data or specs); default: standard error. */
  log?: (line: string) => void;
}

/** A task this process holds, by its local sequence number. */
interface Held {
  tid: number;
  entry: string;
  /** The coordinator's sequence number. */
  seq: number;
  frames: Uint8Array[];
}

/** What a run's outcome writes: an EVAL of the record script, kept until Redis took it. */
type Outcome = (string | number | Uint8Array)[];

/** The plug-in workers of this process, kept from one run to the next with the same module and spec. */
interface Loaded {
  key: string;
  backend: Backend;
}

/** Serves crunch runs from Redis until `options.signal` aborts. */
export async function serveRedis(options: ConsumerOptions): Promise<void> {
  await new Consumer(options).serve();
}

class Consumer {
  readonly #options: ConsumerOptions;
  readonly #name: string;
  readonly #allow: string[];
  readonly #heartbeatMs: number;
  readonly #log: (line: string) => void;
  /** Runs this process will not serve (refused), by id. */
  readonly #refused = new Set<string>();
  /** Outcomes not yet written (the connection dropped): written after reconnecting. */
  #unwritten: Outcome[] = [];
  #ctl: RedisClient | undefined;
  #block: RedisClient | undefined;
  #loaded: Loaded | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #wake: (() => void) | undefined;
  /** Local run and task numbers, unique over this process's life (workers are kept between runs). */
  #runs = 0;
  #seqs = 0;

  constructor(options: ConsumerOptions) {
    this.#options = options;
    this.#name = options.name ?? `${Deno.hostname()}-${Deno.pid}`;
    this.#allow = options.allowModules?.length
      ? options.allowModules
      : [new URL(`file://${Deno.cwd().replace(/\/?$/, "/")}`).href];
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#log = options.log ?? ((line) => console.error(`crunch worker: ${line}`));
  }

  get #stopping(): boolean {
    return this.#options.signal?.aborted ?? false;
  }

  async serve(): Promise<void> {
    const wake = () => this.#wake?.();
    this.#options.signal?.addEventListener("abort", wake);
    await this.#connect(true);
    this.#log(
      `${this.#name} serving ${this.#ctl!.display} with ${
        this.#options.workers ?? navigator.hardwareConcurrency
      } workers; modules allowed under ${this.#allow.join(", ")}`,
    );
    try {
      while (!this.#stopping) {
        let runs: string[];
        try {
          runs = ((await this.#ctl!.command("SMEMBERS", keys.runs)) as Reply[])
            .map((r) => text(r)!).filter((id) => !this.#refused.has(id)).sort();
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
      this.#log(`${this.#name} stopped`);
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
        await this.#ctl.command("SADD", keys.workers, this.#name);
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

  #beat(): Promise<Reply> {
    const info: WorkerInfo = {
      host: Deno.hostname(),
      pid: Deno.pid,
      workers: this.#options.workers ?? navigator.hardwareConcurrency,
    };
    return this.#ctl!.command(
      "SET",
      keys.worker(this.#name),
      JSON.stringify(info),
      "PX",
      this.#heartbeatMs,
    );
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
      ...noteArgs(id, ["kind", "refused", "worker", this.#name, "error", why]),
    );
  }

  /** The local workers for `meta`'s module and spec, started if need be; a string says why not. */
  async #workers(id: string, meta: RunMeta, spec: Uint8Array): Promise<Backend | string> {
    if (!this.#allow.some((prefix) => meta.module.startsWith(prefix))) {
      return `the module ${meta.module} is not under an allowed prefix (${
        this.#allow.join(", ")
      }); start the worker with --allow-module <prefix>`;
    }
    let hash: string;
    try {
      hash = await moduleHash(meta.module);
    } catch (error) {
      return `cannot read the module ${meta.module} here: ${(error as Error).message}`;
    }
    if (hash !== meta.hash) {
      return `the module ${meta.module} here is not the coordinator's (sha256 ${
        hash.slice(0, 12)
      } here, ${meta.hash.slice(0, 12)} there)`;
    }
    // Sandboxed threads need Deno's worker-options feature; without it, processes take the flags.
    const isolation = meta.permissions && workerOptionsEnabled() === false
      ? "process"
      : this.#options.isolation ?? meta.isolation;
    const key = JSON.stringify([meta.module, hash, [...spec], isolation, meta.permissions]);
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
      // Ended, or its coordinator died and its keys expired.
      await ctl.command("SREM", keys.runs, id);
      return;
    }
    const meta = JSON.parse(decoder.decode(metaText)) as RunMeta;
    const backend = await this.#workers(id, meta, spec);
    if (typeof backend === "string") return await this.#refuse(id, backend);
    await new RunServer(this, id, meta, backend, fields.get("columns")).serve();
  }

  // --- what a RunServer uses -------------------------------------------------

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
  /** A run number for the local workers, never used before by this process. */
  nextRun(): number {
    return ++this.#runs;
  }
  /** A task number for the local workers, never used before by this process. */
  nextSeq(): number {
    return ++this.#seqs;
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

/** One run served by a {@linkcode Consumer}'s workers. */
class RunServer {
  readonly #consumer: Consumer;
  readonly #id: string;
  readonly #meta: RunMeta;
  readonly #backend: Backend;
  readonly #held = new Map<number, Held>();
  #columns: string | undefined;
  #run: BackendRun | undefined;
  /** The local workers' number for this run (the coordinator's is in the messages it gets). */
  #localRun = 0;
  #gone = false;
  #broken = false;
  /** The input file of a range run has been found readable here, as the coordinator saw it. */
  #inputChecked = false;
  #tasks = 0;
  /**
   * Tasks claimed but not yet handed to a local worker: a worker can die while a claim
   * waits, leaving less room than was asked for. They go out as room comes back.
   */
  #backlog: TaskMessage[] = [];

  constructor(
    consumer: Consumer,
    id: string,
    meta: RunMeta,
    backend: Backend,
    columns: Uint8Array | undefined,
  ) {
    this.#consumer = consumer;
    this.#id = id;
    this.#meta = meta;
    this.#backend = backend;
    if (columns !== undefined) this.#columns = decoder.decode(columns);
  }

  async serve(): Promise<void> {
    const { settings, limits } = this.#meta;
    const outputColumns = this.#columns === undefined ? undefined : JSON.parse(this.#columns);
    this.#localRun = this.#consumer.nextRun();
    this.#run = await this.#backend.begin(
      {
        ...settings,
        run: this.#localRun,
        outputColumns: outputColumns ?? settings.outputColumns,
      },
      limits,
      this.#listener(),
    );
    const consumer = this.#consumer;
    consumer.log(`run ${this.#id}: taking tasks`);
    let checked = performance.now();
    try {
      while (!this.#gone && !this.#broken && !consumer.stopping) {
        this.#hand();
        const room = this.#run.room() - this.#backlog.length;
        if (room <= 0) {
          await consumer.sleep(250);
        } else {
          await this.#take(room);
        }
        if (performance.now() - checked > 1000) {
          checked = performance.now();
          if ((await consumer.ctl.command("EXISTS", keys.run(this.#id))) !== 1) this.#gone = true;
        }
      }
      // Stopping: what this process holds is finished and recorded before it leaves.
      while (this.#held.size && !this.#gone && !this.#broken) {
        this.#hand();
        await consumer.sleep(100);
      }
    } catch (error) {
      // Whatever went wrong here, the tasks this process claimed must not wait for it forever.
      this.#giveBack(`crunch worker ${consumer.name} failed: ${(error as Error).message}`);
      throw error;
    } finally {
      this.#run.end(this.#gone);
      this.#held.clear();
      this.#backlog = [];
      consumer.log(
        `run ${this.#id}: ${this.#gone ? "ended" : "left"} after ${this.#tasks} task${
          this.#tasks === 1 ? "" : "s"
        }`,
      );
    }
  }

  /** Claims up to `room` new tasks (waiting up to 500 ms for some) and hands them to the workers. */
  async #take(room: number): Promise<void> {
    const consumer = this.#consumer;
    let reply: Reply;
    try {
      reply = await consumer.block.command(
        "XREADGROUP",
        "GROUP",
        GROUP,
        consumer.name,
        "COUNT",
        room,
        "BLOCK",
        500,
        "STREAMS",
        keys.tasks(this.#id),
        ">",
      );
    } catch (error) {
      // The run ended: its stream was deleted (while this read waited, or before).
      if (error instanceof RedisReplyError && /^(NOGROUP|UNBLOCKED)$/.test(error.code)) {
        this.#gone = true;
      } else await consumer.recover(error);
      return;
    }
    for (const { id: entry, fields } of streamEntries(reply)) {
      const tid = Number(decoder.decode(fields.get("tid")));
      const frame = fields.get("frame");
      if (!frame) continue;
      const task = decodeFrames(frame)[0] as TaskMessage;
      const columns = fields.get("columns");
      if (columns !== undefined) {
        const now = decoder.decode(columns);
        if (now !== this.#columns) {
          this.#columns = now;
          this.#run!.columns(JSON.parse(now));
        }
      }
      if (task.type === "range" && !this.#inputChecked) {
        const why = await this.#checkInput(task.path, task.fingerprint);
        if (why !== undefined) {
          await consumer.refuse(this.#id, why);
          this.#gone = true;
          return;
        }
        this.#inputChecked = true;
      }
      const local = consumer.nextSeq();
      this.#held.set(local, { tid, entry, seq: task.seq, frames: [] });
      this.#tasks++;
      this.#backlog.push({ ...task, run: this.#localRun, seq: local });
    }
    this.#hand();
  }

  /** Reports every task this process holds as lost, so the coordinator sends them again. */
  #giveBack(why: string): void {
    const lost = [...this.#held.values()];
    this.#held.clear();
    this.#backlog = [];
    if (lost.length === 0) return;
    this.#consumer.write(
      recordArgs(this.#id, lost.map((h) => ({ id: h.entry, tid: h.tid })), [
        "kind",
        "lost",
        "worker",
        this.#consumer.name,
        "error",
        why,
      ]),
    );
  }

  /** Hands claimed tasks to the local workers while they have room. */
  #hand(): void {
    while (this.#backlog.length && this.#run!.room() > 0) {
      const task = this.#backlog.shift()!;
      if (!this.#held.has(task.seq)) continue; // given up meanwhile (its workers failed)
      this.#run!.send(task, task.type === "chunk" ? [task.buffer] : []);
    }
  }

  /** Why this process cannot read the input of a range run as the coordinator does, if it cannot. */
  async #checkInput(
    path: string,
    expected: { size: number; head: number } | undefined,
  ): Promise<string | undefined> {
    try {
      using file = await Deno.open(path);
      const print = fingerprintOf(file);
      if (expected && (print.size < expected.size || print.head !== expected.head)) {
        return `the input ${path} here is not the coordinator's file (size ${print.size} here, ` +
          `${expected.size} there); run the coordinator with --reader main to send the records ` +
          "through Redis";
      }
      return undefined;
    } catch (error) {
      return `cannot read the input ${path} here (${(error as Error).message}): put it where ` +
        "every worker sees it at the same path, or run the coordinator with --reader main to " +
        "send the records through Redis";
    }
  }

  #listener(): BackendListener {
    const consumer = this.#consumer;
    const run = this.#meta.settings.run;
    // Back in the coordinator's numbers.
    const frame = (message: CountMessage | PieceMessage, held: Held) =>
      encodeFrames([{ ...message, run, seq: held.seq }]);
    return {
      count: (message) => {
        // Sent at once, as a local worker's is: if the worker dies, the coordinator knows the
        // task's records and can bisect it. Not an outcome: the task stays pending.
        const held = this.#held.get(message.seq);
        if (!held) return;
        consumer.write(noteArgs(this.#id, [
          "kind",
          "count",
          "tids",
          String(held.tid),
          "worker",
          consumer.name,
          "frames",
          frame(message, held),
        ]));
      },
      piece: (message) => {
        const held = this.#held.get(message.seq);
        if (!held) return;
        held.frames.push(frame(message, held));
        if (message.type !== "done") return;
        this.#held.delete(message.seq);
        this.#hand();
        consumer.write(recordArgs(this.#id, [{ id: held.entry, tid: held.tid }], [
          "kind",
          "done",
          "worker",
          consumer.name,
          "frames",
          concat(held.frames),
        ]));
        consumer.wake();
      },
      lost: (seqs, error) => {
        const lost = seqs.map((s) => this.#held.get(s)).filter((h) => h !== undefined);
        for (const s of seqs) this.#held.delete(s);
        if (lost.length === 0) return;
        consumer.log(`run ${this.#id}: ${error.message}`);
        consumer.write(
          recordArgs(this.#id, lost.map((h) => ({ id: h.entry, tid: h.tid })), [
            "kind",
            "lost",
            "worker",
            consumer.name,
            "error",
            error.message,
          ]),
        );
        consumer.wake();
      },
      ready: () => {
        this.#hand();
        consumer.wake();
      },
      recycled: () => {},
      failed: (error) => {
        // A worker could not be replaced: give back what this process holds and start afresh.
        consumer.log(`run ${this.#id}: ${(error as Error).message}`);
        this.#giveBack(
          `the workers of crunch worker ${consumer.name} failed: ${(error as Error).message}`,
        );
        this.#broken = true;
        consumer.drop(this.#backend);
        consumer.wake();
      },
    };
  }
}
