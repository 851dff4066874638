/**
 * A backend of workers on this machine, reached through {@linkcode Links}
 * (Web Workers or worker processes): starting them with the plug-in,
 * replacing one that died, and shutting them down. What happens during a
 * run (placing tasks, noticing deaths and timeouts) is the
 * {@linkcode LocalRun}'s.
 *
 * @module
 */

import { exportTypos, meant } from "../export_typos.ts";
import { stripAnsi } from "../../checks.ts";
import { CrunchError, InitError, ModuleError, PrepareError, reviveError } from "../../errors.ts";
import type { FromWorker, LoadFailedMessage, RunMessage } from "../../wire/protocol.ts";
import type { WorkerContext } from "../../plugin.ts";
import type {
  Backend,
  BackendListener,
  BackendRun,
  RunLimits,
  RunSettings,
  WorkerStart,
} from "../backend.ts";
import type { Links } from "./link.ts";
import { LocalRun, PER_WORKER } from "./local_run.ts";
import { Slot } from "./slot.ts";

/** Workers on this machine behind one {@linkcode Backend}. */
export class LocalBackend implements Backend {
  readonly #module: string;
  readonly #spec: unknown;
  readonly #links: Links;
  /** Replace a worker whose heap in use passes this many bytes, after its task. */
  readonly heapLimit: number | undefined;
  readonly #slots: Slot[] = [];
  /** What prepare() returned, computed once (and reused by replacement workers). */
  #shared: Promise<unknown> | undefined;
  /** Replacements under way: one started late in a run may finish after that run ended. */
  #replacing = new Set<Promise<void>>();
  /** The current run, if any. */
  #run: LocalRun | undefined;
  /** Runs begun: each run's number, which its workers' messages carry. */
  #runs = 0;
  /** Workers started and not yet wholly gone (replaced ones included): waited for at the end. */
  readonly #exits = new Set<Promise<void>>();
  #closed = false;
  /** Whether the plug-in's misspelt exports were warned about (once, not per worker). */
  #warned = false;

  private constructor(module: string, spec: unknown, links: Links, heapLimit?: number) {
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
    links: Links,
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
      await backend.terminate();
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

  get capacity(): number {
    return this.#slots.length * PER_WORKER;
  }

  starts(): WorkerStart[] {
    return this.#slots.map((slot) => ({
      worker: `worker ${slot.index}`,
      startMs: slot.loadMs,
      initMs: slot.initMs,
    }));
  }

  #spawn(index: number): Slot {
    const slot = new Slot(index, this.#links);
    const exited = slot.link.exited.finally(() => this.#exits.delete(exited));
    this.#exits.add(exited);
    slot.onDeath = (error) => this.#run?.died(slot, error);
    return slot;
  }

  /**
   * Loads the plug-in in one worker and runs its init; the worker is ready
   * after. Every failure, a message that cannot be sent included, rejects.
   */
  async #init(slot: Slot): Promise<void> {
    const module = this.#module;
    try {
      slot.link.post({ type: "load", module });
      const loaded = await slot.reply();
      if (loaded.type === "load-failed") throw moduleError(module, loaded);
      if (loaded.type !== "loaded") throw unexpected(slot, loaded);
      if (!this.#warned) {
        this.#warned = true;
        for (const typo of exportTypos(loaded.exports)) {
          console.warn(`crunch: warning: classifier module ${module} ${typo}`);
        }
      }
      // prepare() runs once, in the first worker that loaded the module (under the workers'
      // permissions: the main thread never runs the plug-in's code), before any init. Where
      // workers cannot share memory (processes), each runs it and keeps its own copy: built
      // in place, not shipped through the main process (a 3-million-entry SharedTable, 2
      // processes: start-up 12.5 s and 1.65 GB shipped; 3.0 s and 0.67 GB built in each).
      const prepares = loaded.exports.includes("prepare");
      const keep = prepares && !this.#links.carries.sharedMemory;
      if (!keep) {
        this.#shared ??= prepares ? this.#prepareIn(slot) : Promise.resolve(undefined);
      }
      const shared = keep ? await this.#prepareIn(slot, true) : await this.#shared;
      const context: WorkerContext = { workerIndex: slot.index, workers: this.#slots.length };
      if (shared !== undefined) context.shared = shared;
      const initFrom = performance.now();
      slot.loadMs = initFrom - slot.startedAt;
      slot.link.post({ type: "init", spec: this.#spec, context });
      const ready = await slot.reply();
      if (ready.type === "init-failed") throw new InitError(module, slot.index, ready.error);
      if (ready.type !== "ready") throw unexpected(slot, ready);
      slot.initMs = performance.now() - initFrom;
    } catch (error) {
      slot.onDeath = () => {};
      slot.onMessage = () => {};
      throw error;
    }
    slot.onDeath = (error) => this.#run?.died(slot, error);
    slot.onMessage = (message) => this.#run?.message(slot, message);
    slot.ready = true;
  }

  /** Runs the plug-in's prepare(spec) in `slot`; resolves with what it returned. */
  async #prepareIn(slot: Slot, keep = false): Promise<unknown> {
    const module = this.#module;
    slot.link.post({ type: "prepare", spec: this.#spec, keep });
    const reply = await slot.reply();
    if (reply.type === "prepared") return reply.shared;
    if (reply.type !== "prepare-failed") throw unexpected(slot, reply);
    const { name, message } = reply.error;
    const cause = reviveError(reply.error);
    throw reply.stage === "threw"
      ? new PrepareError(module, `failed: ${name}: ${message}`, { cause })
      : new PrepareError(
        module,
        `returned a value that cannot be sent to workers: ${message}`,
        { cause },
      );
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
    const { rate, ...rest } = settings;
    const message: RunMessage = {
      type: "run",
      ...rest,
      run: ++this.#runs,
      reportHeap: this.heapLimit !== undefined,
    };
    // Threads share one clock; a worker that cannot share memory keeps its own share.
    if (rate) {
      message.rate = this.#links.carries.sharedMemory
        ? { ...rate, buffer: new SharedArrayBuffer(8) }
        : { intervalUs: rate.perWorkerUs, perWorkerUs: rate.perWorkerUs };
    }
    const run = new LocalRun(this, this.#slots, message, limits, listener);
    this.#run = run;
    return run;
  }

  /** The run ended: stop routing messages to it. */
  detach(run: LocalRun): void {
    if (this.#run === run) this.#run = undefined;
  }

  async terminate(): Promise<void> {
    this.#closed = true;
    for (const slot of this.#slots) slot.stop();
    await this.#gone();
  }

  /** Waits until every worker this backend started is wholly gone. */
  async #gone(): Promise<void> {
    while (this.#exits.size) await Promise.all([...this.#exits]);
  }

  async close(): Promise<string[]> {
    if (this.#closed) return [];
    this.#closed = true;
    const outcomes = await Promise.all(this.#slots.map((slot) => slot.close()));
    await this.#gone();
    const error = outcomes.find((o) => o.error !== undefined)?.error;
    if (error) throw error;
    return outcomes.flatMap((o) => o.warning === undefined ? [] : [o.warning]);
  }
}

/** The ModuleError a worker's load failure means. */
function moduleError(module: string, message: LoadFailedMessage): ModuleError {
  const { error, exports } = message;
  // An import's syntax error comes as a TypeError whose message names it already.
  const named = /^\w*Error: /.test(error.message) ? "" : `${error.name}: `;
  const typo = exports.find((name) => /^classify/.test(meant(name, exports) ?? ""));
  const problem = message.stage === "load"
    ? `could not be loaded: ${named}${stripAnsi(error.message)}`
    : typo
    ? `${error.message}: did you mean ${meant(typo, exports)}? (it exports ${typo})`
    : error.message;
  const found = message.stage === "load" ? undefined : exports;
  return new ModuleError(module, problem, found, { cause: reviveError(error) });
}

/** A worker answered the start handshake out of turn: a bug, said plainly. */
function unexpected(slot: Slot, message: FromWorker): CrunchError {
  return new CrunchError(`worker ${slot.index} sent "${message.type}" while starting`);
}
