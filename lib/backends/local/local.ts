/**
 * A backend of workers on this machine, reached through {@linkcode WorkerLink}s
 * (Web Workers or worker processes): starting them with the plug-in, keeping
 * a small queue of tasks on each, noticing when one dies, replacing it, and
 * shutting them down.
 *
 * A worker can die in several ways, and one of them is silence; all of them
 * become one death here:
 * - the link reports it (an uncaught error event, the worker process ended);
 * - the worker's own `fatal` message (an error escaping a timer or a promise);
 * - its `exit` message, sent just before `Deno.exit()` or `self.close()` take
 *   effect (Deno sends no event for those);
 * - a worker that goes longer than the run's timeout without finishing a
 *   record: it is given up on.
 *
 * @module
 */

import { stripAnsi } from "../../checks.ts";
import {
  CrunchError,
  InitError,
  ModuleError,
  reviveError,
  WorkerCrashError,
} from "../../errors.ts";
import type { FromWorker, SerializedError } from "../../wire/protocol.ts";
import type { WorkerContext } from "../../plugin.ts";
import { runPrepare } from "./prepare.ts";
import type {
  Backend,
  BackendListener,
  BackendRun,
  RunLimits,
  RunSettings,
  TaskMessage,
} from "../backend.ts";
import type { LinkFactory, WorkerLink } from "./link.ts";

/** Tasks a worker may hold at once: one being classified, one queued behind it. */
export const PER_WORKER = 2;

/** How long a worker's `close()` may take before the worker is stopped anyway. */
const CLOSE_GRACE_MS = 5000;

function describe(what: string, error: SerializedError): string {
  return `${what}: ${error.name}: ${error.message}`;
}

/** One worker and what the backend knows of it. */
class Slot {
  readonly index: number;
  readonly link: WorkerLink;
  /** Sequence numbers of the tasks it holds, in the order it takes them. */
  queue: number[] = [];
  /** When it last showed progress: started its head task, or reported results. */
  progressAt = 0;
  /** Tasks finished in the current run (for maxChunksPerWorker). */
  finished = 0;
  /** False while the worker is starting (importing the plug-in, running init). */
  ready = false;
  /**
   * It has the current run's settings. A task sent before them would be
   * dropped by the worker as one of an unknown run, and waited for forever.
   */
  joined = false;
  /** It takes no more tasks: it is about to be replaced. */
  retiring = false;
  /** Set once the worker is known to be dead or stopped. */
  dead: WorkerCrashError | undefined;
  /** Where its ordinary messages go (the init handshake, then the backend). */
  onMessage: (message: FromWorker) => void = () => {};
  /** Called once when it dies. */
  onDeath: (error: WorkerCrashError) => void = () => {};

  constructor(index: number, links: LinkFactory) {
    this.index = index;
    this.link = links(index, {
      message: (message) => {
        if (this.dead) return;
        if (message.type === "exit") {
          const how = message.via === "Deno.exit"
            ? `the classifier called Deno.exit(${message.code ?? ""})`
            : "the classifier called self.close()";
          this.kill(new WorkerCrashError(index, how));
        } else if (message.type === "fatal") {
          this.kill(
            new WorkerCrashError(index, describe("an uncaught error", message.error), {
              cause: reviveError(message.error),
            }),
          );
        } else {
          this.onMessage(message);
        }
      },
      died: (reason, cause) => this.kill(new WorkerCrashError(index, reason, { cause })),
    });
  }

  /** True when it may take another task. */
  get available(): boolean {
    return this.ready && this.joined && !this.dead && !this.retiring;
  }

  /** Declares the worker dead: stops it and reports the death once. */
  kill(error: WorkerCrashError): void {
    if (this.dead) return;
    this.dead = error;
    this.link.terminate();
    this.onDeath(error);
  }

  /** Stops the worker without reporting a death (it is being replaced or shut down). */
  stop(): void {
    this.dead ??= new WorkerCrashError(this.index, "stopped");
    this.link.terminate();
  }

  /**
   * Asks the plug-in to `close()`, then stops the worker. Resolves with the
   * error close() threw, if any, or a warning: the worker died while closing,
   * or its close() did not finish in time.
   */
  close(): Promise<{ error?: Error; warning?: string }> {
    if (this.dead) {
      this.stop();
      return Promise.resolve({});
    }
    return new Promise((resolve) => {
      const timer = setTimeout(
        () =>
          finish(
            undefined,
            `worker ${this.index}'s close() did not finish within ${CLOSE_GRACE_MS / 1000} s; ` +
              "the worker was stopped",
          ),
        CLOSE_GRACE_MS,
      );
      const finish = (error: Error | undefined, warning?: string) => {
        clearTimeout(timer);
        this.onDeath = () => {};
        this.stop();
        resolve({ error, warning });
      };
      this.onDeath = (death) =>
        finish(
          undefined,
          `${death.message.replace(/^worker (\d+) died/, "worker $1 died while closing")}`,
        );
      this.onMessage = (message) => {
        if (message.type !== "closed") return;
        if (message.error === undefined) finish(undefined);
        else {
          const { name, message: text } = message.error;
          finish(
            new CrunchError(`close() failed in worker ${this.index}: ${name}: ${text}`, {
              cause: reviveError(message.error),
            }),
          );
        }
      };
      this.link.post({ type: "close" });
    });
  }
}

/** Workers on this machine behind one {@linkcode Backend}. */
export class LocalBackend implements Backend {
  readonly #module: string;
  readonly #spec: unknown;
  readonly #links: LinkFactory;
  /** Replace a worker whose heap in use passes this many bytes, after its task. */
  readonly heapLimit: number | undefined;
  readonly #slots: Slot[] = [];
  /** What prepare() returned, computed once (and reused by replacement workers). */
  #shared: Promise<unknown> | undefined;
  /** Replacements under way: one started late in a run may finish after that run ended. */
  #replacing = new Set<Promise<void>>();
  /** The current run, if any. */
  #run: LocalRun | undefined;
  #closed = false;

  private constructor(module: string, spec: unknown, links: LinkFactory, heapLimit?: number) {
    this.#module = module;
    this.#spec = spec;
    this.#links = links;
    this.heapLimit = heapLimit;
  }

  /**
   * Starts `count` workers and initialises the plug-in in each; rejects on
   * the first failure, or at once when `signal` aborts (a slow module load or
   * init is not waited for: the workers are stopped).
   */
  static async start(
    module: string,
    spec: unknown,
    count: number,
    links: LinkFactory,
    signal?: AbortSignal,
    heapLimitMb?: number,
  ): Promise<LocalBackend> {
    signal?.throwIfAborted();
    const heapLimit = heapLimitMb === undefined ? undefined : heapLimitMb * 1024 * 1024;
    const backend = new LocalBackend(module, spec, links, heapLimit);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal!.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      for (let i = 0; i < count; i++) backend.#slots.push(backend.#spawn(i));
      await Promise.race([Promise.all(backend.#slots.map((slot) => backend.#init(slot))), aborted]);
    } catch (error) {
      backend.terminate();
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort!);
      aborted.catch(() => {});
    }
    return backend;
  }

  get size(): number {
    return this.#slots.length;
  }

  #spawn(index: number): Slot {
    const slot = new Slot(index, this.#links);
    slot.onDeath = (error) => this.#run?.died(slot, error);
    return slot;
  }

  /** Loads the plug-in in one worker and runs its init; the worker is ready after. */
  #init(slot: Slot): Promise<void> {
    const module = this.#module;
    const spec = this.#spec;
    return new Promise<void>((resolve, reject) => {
      slot.onDeath = reject;
      slot.onMessage = (message) => {
        if (message.type === "loaded") {
          // Every worker has loaded the module before init: prepare() runs once, on the main
          // thread, only for a module that exports it.
          this.#shared ??= message.exports.includes("prepare")
            ? runPrepare(module, spec)
            : Promise.resolve(undefined);
          this.#shared.then((shared) => {
            const context: WorkerContext = { workerIndex: slot.index, workers: this.#slots.length };
            if (shared !== undefined) context.shared = shared;
            slot.link.post({ type: "init", spec, context });
          }, reject);
        } else if (message.type === "ready") resolve();
        else if (message.type === "load-failed") {
          const { error, exports } = message;
          // An import's syntax error comes as a TypeError whose message names it already.
          const named = /^\w*Error: /.test(error.message) ? "" : `${error.name}: `;
          const problem = message.stage === "load"
            ? `could not be loaded: ${named}${stripAnsi(error.message)}`
            : error.message;
          const found = message.stage === "load" ? undefined : exports;
          reject(new ModuleError(module, problem, found, { cause: reviveError(error) }));
        } else if (message.type === "init-failed") {
          reject(new InitError(module, slot.index, message.error));
        }
      };
      slot.link.post({ type: "load", module });
    }).then(() => {
      slot.onDeath = (error) => this.#run?.died(slot, error);
      slot.onMessage = (message) => this.#run?.message(slot, message);
      slot.ready = true;
    }, (error) => {
      slot.onDeath = () => {};
      throw error;
    });
  }

  /**
   * Replaces the worker at `index` with a fresh one that runs init again and
   * joins the current run. `graceful` lets the old one call close() first.
   */
  replace(index: number, graceful: boolean): Promise<void> {
    const replacing = this.#replaceNow(index, graceful);
    this.#replacing.add(replacing);
    return replacing.finally(() => this.#replacing.delete(replacing));
  }

  async #replaceNow(index: number, graceful: boolean): Promise<void> {
    const old = this.#slots[index];
    const fresh = this.#spawn(index);
    this.#slots[index] = fresh;
    if (graceful) await old.close(); // a recycled worker: its close() error is its own business
    else old.stop();
    await this.#init(fresh);
    if (this.#closed) {
      fresh.stop();
      throw new CrunchError("the workers were closed while one was being replaced");
    }
    this.#run?.joined(fresh);
  }

  async begin(
    settings: RunSettings,
    limits: RunLimits,
    listener: BackendListener,
  ): Promise<BackendRun> {
    if (this.#closed) throw new CrunchError("the workers are closed");
    // A run can end while a worker it lost is being replaced: wait for that, then replace
    // every worker that is dead or never became ready. Only workers that ran init are ready.
    await Promise.allSettled([...this.#replacing]);
    const broken = this.#slots.filter((slot) => slot.dead || !slot.ready);
    await Promise.all(broken.map((slot) => {
      slot.stop();
      const fresh = this.#spawn(slot.index);
      this.#slots[slot.index] = fresh;
      return this.#init(fresh);
    }));
    const reportHeap = this.heapLimit !== undefined;
    const run = new LocalRun(this, this.#slots, { ...settings, reportHeap }, limits, listener);
    this.#run = run;
    return run;
  }

  /** The run ended: stop routing messages to it. */
  detach(run: LocalRun): void {
    if (this.#run === run) this.#run = undefined;
  }

  terminate(): void {
    this.#closed = true;
    for (const slot of this.#slots) slot.stop();
  }

  async close(): Promise<string[]> {
    if (this.#closed) return [];
    this.#closed = true;
    const outcomes = await Promise.all(this.#slots.map((slot) => slot.close()));
    const error = outcomes.find((o) => o.error !== undefined)?.error;
    if (error) throw error;
    return outcomes.flatMap((o) => o.warning === undefined ? [] : [o.warning]);
  }
}

/** One run on a {@linkcode LocalBackend}'s workers. */
class LocalRun implements BackendRun {
  readonly #backend: LocalBackend;
  readonly #slots: Slot[];
  readonly #settings: RunSettings;
  readonly #limits: RunLimits;
  readonly #listener: BackendListener;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #ended = false;

  constructor(
    backend: LocalBackend,
    slots: Slot[],
    settings: RunSettings,
    limits: RunLimits,
    listener: BackendListener,
  ) {
    this.#backend = backend;
    this.#slots = slots;
    this.#settings = { ...settings };
    this.#limits = limits;
    this.#listener = listener;
    for (const slot of slots) this.#join(slot);
    const { timeout } = limits;
    if (timeout !== undefined) {
      // More workers than cores share the cores: a record takes that much longer in wall time.
      const share = Math.max(1, slots.length / (navigator.hardwareConcurrency || 1));
      this.#watchdog = setInterval(
        () => this.#checkTimeouts(timeout, timeout * share),
        Math.min(250, Math.max(10, timeout / 4)),
      );
    }
  }

  #join(slot: Slot): void {
    slot.queue = [];
    slot.finished = 0;
    slot.retiring = false;
    slot.link.post({ type: "run", ...this.#settings });
    slot.joined = true;
  }

  room(): number {
    let room = 0;
    for (const slot of this.#slots) {
      if (slot.available) room += PER_WORKER - slot.queue.length;
    }
    return room;
  }

  send(task: TaskMessage, transfer: ArrayBuffer[] = []): void {
    let slot: Slot | undefined;
    for (const s of this.#slots) {
      if (
        s.available && s.queue.length < PER_WORKER && (!slot || s.queue.length < slot.queue.length)
      ) {
        slot = s;
      }
    }
    if (slot === undefined) throw new CrunchError("no worker has room for a task");
    slot.link.post(task, transfer);
    slot.queue.push(task.seq);
    if (slot.queue.length === 1) slot.progressAt = performance.now();
  }

  columns(columns: string[]): void {
    this.#settings.outputColumns = columns;
    for (const slot of this.#slots) {
      if (!slot.dead) slot.link.post({ type: "columns", run: this.#settings.run, columns });
    }
  }

  end(cancel: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#watchdog);
    this.#backend.detach(this);
    if (cancel) {
      for (const slot of this.#slots) {
        if (!slot.dead) slot.link.post({ type: "cancel", run: this.#settings.run });
      }
    }
  }

  /** A message from a ready worker. */
  message(slot: Slot, message: FromWorker): void {
    if (this.#ended) return;
    if (message.type === "count") {
      if (message.run === this.#settings.run) this.#listener.count(message);
      return;
    }
    if (message.type !== "partial" && message.type !== "done") return;
    if (message.run !== this.#settings.run) return;
    slot.progressAt = performance.now();
    this.#listener.piece(message);
    if (message.type === "done") this.#finished(slot, message.seq, message.heapUsed);
  }

  /** `slot` is done with the task at the head of its queue. */
  #finished(slot: Slot, seq: number, heapUsed?: number): void {
    const at = slot.queue.indexOf(seq);
    if (at !== -1) slot.queue.splice(at, 1);
    slot.progressAt = performance.now();
    slot.finished++;
    const { maxChunksPerWorker } = this.#limits;
    if (maxChunksPerWorker !== undefined && slot.finished >= maxChunksPerWorker) {
      slot.retiring = true;
    }
    // A worker that holds more heap than allowed is replaced between tasks, before a record
    // runs it out of memory (which, in a Web Worker, would end the whole process).
    const limit = this.#backend.heapLimit;
    if (limit !== undefined && heapUsed !== undefined && heapUsed > limit) slot.retiring = true;
    if (slot.retiring && slot.queue.length === 0) {
      this.#listener.recycled();
      this.#replace(slot, true);
    }
  }

  /** A worker of this run died: its tasks are lost, and a fresh worker takes its place. */
  died(slot: Slot, error: WorkerCrashError): void {
    if (this.#ended) return;
    const tasks = slot.queue;
    slot.queue = [];
    this.#listener.lost(tasks, error);
    if (!this.#ended) this.#replace(slot, false);
  }

  /** A replacement worker is ready: it takes this run's settings, then tasks. */
  joined(slot: Slot): void {
    if (this.#ended) return;
    this.#join(slot);
    this.#listener.ready();
  }

  #replace(slot: Slot, graceful: boolean): void {
    this.#backend.replace(slot.index, graceful).catch((error) => {
      if (!this.#ended) this.#listener.failed(error);
    });
  }

  #checkTimeouts(timeout: number, wall: number): void {
    const now = performance.now();
    for (const slot of this.#slots) {
      if (!slot.dead && slot.queue.length && now - slot.progressAt > wall) {
        const shared = wall > timeout
          ? ` (${Math.round(wall)} ms with more workers than cores)`
          : "";
        slot.kill(
          new WorkerCrashError(
            slot.index,
            `no record finished within the timeout of ${timeout} ms${shared}`,
          ),
        );
      }
    }
  }
}
