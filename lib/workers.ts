/**
 * The workers of a pool: starting them with the plug-in, routing their
 * messages, noticing when one dies, and shutting them down.
 *
 * Deno reports a worker's death in three different ways, and one of them is
 * silence; this module turns all of them into one `crash` event:
 * - an uncaught error: an `error` event on the Worker (prevented here, or it
 *   would kill the main process) or the worker's own `fatal` message;
 * - `Deno.exit()` / `self.close()`: no event at all, so the worker announces
 *   them itself with an `exit` message before they take effect.
 *
 * @module
 */

import { CrunchError, InitError, ModuleError, WorkerCrashError } from "./errors.ts";
import type {
  CountMessage,
  FromWorker,
  PieceMessage,
  RunMessage,
  SerializedError,
  ToWorker,
  WorkerContext,
} from "./protocol.ts";
import type { Flight } from "./flight.ts";
import { sandboxPermissions } from "./sandbox.ts";
import { runPrepare } from "./prepare.ts";
import { reviveError } from "./errors.ts";

const WORKER_URL = new URL("../workers/worker.ts", import.meta.url);

/** How long a worker's `close()` may take before the worker is terminated anyway. */
const CLOSE_GRACE_MS = 5000;

/** What the active run hears from the workers. */
export interface RunListener {
  piece(worker: WorkerHandle, message: PieceMessage): void;
  count(worker: WorkerHandle, message: CountMessage): void;
  crash(worker: WorkerHandle, error: WorkerCrashError): void;
}

/** One worker and what the pool knows of it. */
export class WorkerHandle {
  readonly index: number;
  readonly #worker: Worker;
  /** Tasks sent and not yet finished, in the order the worker takes them (run bookkeeping). */
  queue: Flight[] = [];
  /** Tasks this worker has finished (for maxChunksPerWorker). */
  finished = 0;
  /** False while the worker is starting (importing the plug-in, running init). */
  ready = false;
  /** Set when the worker takes no more tasks: it is about to be replaced. */
  retiring = false;
  /** Set once the worker is known to be dead or terminated. */
  dead: WorkerCrashError | undefined;
  #terminated = false;
  #onMessage: (message: FromWorker) => void = () => {};
  #onDeath: ((error: WorkerCrashError) => void) | undefined;

  constructor(
    index: number,
    onCrash: (worker: WorkerHandle, error: WorkerCrashError) => void,
    permissions?: Deno.PermissionOptions,
  ) {
    this.index = index;
    const options: WorkerOptions & { deno?: { permissions: Deno.PermissionOptions } } = {
      type: "module",
      name: `crunch-${index}`,
    };
    if (permissions !== undefined) options.deno = { permissions };
    this.#worker = new Worker(WORKER_URL, options);
    const die = (error: WorkerCrashError) => this.kill(error);
    this.#onCrash = onCrash;
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.type === "exit") {
        const how = message.via === "Deno.exit"
          ? `the classifier called Deno.exit(${message.code ?? ""})`
          : "the classifier called self.close()";
        die(new WorkerCrashError(index, how));
      } else if (message.type === "fatal") {
        die(
          new WorkerCrashError(index, describe("an uncaught error", message.error), {
            cause: reviveError(message.error),
          }),
        );
      } else {
        this.#onMessage(message);
      }
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      die(new WorkerCrashError(index, `an uncaught error: ${event.message}`));
    };
    this.#worker.onmessageerror = () => {
      die(new WorkerCrashError(index, "a message from the worker could not be read"));
    };
  }

  #onCrash: (worker: WorkerHandle, error: WorkerCrashError) => void;

  /** Tasks in flight on this worker. */
  get inflight(): number {
    return this.queue.length;
  }

  /** True when the run may send this worker another task. */
  get available(): boolean {
    return this.ready && !this.dead && !this.retiring;
  }

  /** Declares the worker dead (it died, or overran a timeout): terminates it and reports the crash. */
  kill(error: WorkerCrashError): void {
    if (this.dead || this.#terminated) return;
    this.dead = error;
    this.terminate();
    this.#onDeath?.(error);
    this.#onCrash(this, error);
  }

  /** Routes the worker's ordinary messages to `listener`. */
  listen(listener: (message: FromWorker) => void): void {
    this.#onMessage = listener;
  }

  /** Sends a message, transferring `transfer`. */
  post(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  /** Stops the worker at once. */
  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#worker.terminate();
  }

  /**
   * Asks the plug-in to `close()`, then terminates. Resolves with the error
   * close() threw, or the crash that killed the worker meanwhile, if any.
   */
  close(): Promise<Error | undefined> {
    if (this.dead || this.#terminated) {
      this.terminate();
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), CLOSE_GRACE_MS);
      const finish = (error: Error | undefined) => {
        clearTimeout(timer);
        this.#onDeath = undefined;
        this.terminate();
        resolve(error);
      };
      this.#onDeath = finish;
      this.listen((message) => {
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
      });
      this.post({ type: "close" });
    });
  }
}

function describe(what: string, error: SerializedError): string {
  return `${what}: ${error.name}: ${error.message}`;
}

/** A started set of workers with the plug-in initialised in each. */
export class WorkerSet {
  readonly module: string;
  readonly spec: unknown;
  readonly handles: WorkerHandle[] = [];
  /** The run now using the workers, if any. */
  listener: RunListener | undefined;
  #closed = false;

  readonly permissions: Deno.PermissionOptions | undefined;

  private constructor(module: string, spec: unknown, permissions?: Deno.PermissionOptions) {
    this.module = module;
    this.spec = spec;
    this.permissions = permissions;
  }

  /** Starts `count` workers and initialises the plug-in in each; rejects on the first failure. */
  static async start(
    module: string,
    spec: unknown,
    count: number,
    permissions?: Deno.PermissionOptions,
  ): Promise<WorkerSet> {
    const set = new WorkerSet(
      module,
      spec,
      permissions === undefined ? undefined : sandboxPermissions(module, permissions),
    );
    try {
      for (let i = 0; i < count; i++) set.handles.push(set.#spawn(i));
      await Promise.all(set.handles.map((handle) => set.#init(handle)));
      for (const handle of set.handles) handle.ready = true;
    } catch (error) {
      set.terminate();
      throw error;
    }
    return set;
  }

  #spawn(index: number): WorkerHandle {
    return new WorkerHandle(index, (handle, error) => {
      this.#initWaiters.get(handle)?.(error);
      this.listener?.crash(handle, error);
    }, this.permissions);
  }

  /** Rejecters of the init of workers that are starting, so a crash ends their wait. */
  #initWaiters = new Map<WorkerHandle, (error: Error) => void>();

  /** Loads the plug-in in one worker and runs its init. */
  #init(handle: WorkerHandle): Promise<void> {
    const { module, spec } = this;
    return new Promise<void>((resolve, reject) => {
      this.#initWaiters.set(handle, reject);
      handle.listen((message) => {
        if (message.type === "loaded") {
          // Every worker has loaded the module before init: prepare() runs once, on the main
          // thread, only for a module that exports it.
          this.#shared ??= message.exports.includes("prepare")
            ? runPrepare(module, spec)
            : Promise.resolve(undefined);
          this.#shared.then((shared) => {
            const context: WorkerContext = {
              workerIndex: handle.index,
              workers: this.handles.length,
            };
            if (shared !== undefined) context.shared = shared;
            handle.post({ type: "init", spec, context });
          }, reject);
        } else if (message.type === "ready") resolve();
        else if (message.type === "load-failed") {
          const { error, exports } = message;
          const problem = message.stage === "load"
            ? `could not be loaded: ${error.name}: ${error.message}`
            : error.message;
          const found = message.stage === "load" ? undefined : exports;
          reject(new ModuleError(module, problem, found, { cause: reviveError(error) }));
        } else if (message.type === "init-failed") {
          reject(new InitError(module, handle.index, message.error));
        }
      });
      handle.post({ type: "load", module });
    }).finally(() => {
      this.#initWaiters.delete(handle);
      handle.listen((message) => {
        if (message.type === "done" || message.type === "partial") {
          this.listener?.piece(handle, message);
        } else if (message.type === "count") {
          this.listener?.count(handle, message);
        }
      });
    });
  }

  /** What prepare() returned, computed once for the set (and reused by replacement workers). */
  #shared: Promise<unknown> | undefined;

  /** True when the set was closed or terminated. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Replaces the worker at `index` with a fresh one that runs init again and
   * joins the current run. `graceful` lets the old one call close() first.
   * Rejects (InitError, ModuleError, WorkerCrashError) if the fresh one fails.
   */
  async replace(index: number, graceful: boolean): Promise<WorkerHandle> {
    const replacing = this.#replaceNow(index, graceful);
    this.#replacing.add(replacing);
    try {
      return await replacing;
    } finally {
      this.#replacing.delete(replacing);
    }
  }

  /** Replacements under way: one started late in a run may finish after that run ended. */
  #replacing = new Set<Promise<WorkerHandle>>();

  async #replaceNow(index: number, graceful: boolean): Promise<WorkerHandle> {
    const old = this.handles[index];
    const fresh = this.#spawn(index);
    this.handles[index] = fresh;
    if (graceful) await old.close();
    else old.terminate();
    await this.#init(fresh);
    if (this.#closed) {
      fresh.terminate();
      throw new CrunchError("the pool was closed while a worker was being replaced");
    }
    // The run's settings go first, then the worker may take tasks.
    if (this.#run) fresh.post(this.#run);
    fresh.ready = true;
    return fresh;
  }

  /** The current run's settings, for workers that join it late. */
  #run: RunMessage | undefined;

  /**
   * Before a run: waits for replacements still under way (a run can end while
   * a worker it lost is being replaced), then replaces every worker that is
   * dead or never became ready. Only workers that have run init are marked
   * ready: a run must not send tasks to one still loading, which would drop
   * them.
   */
  async repair(): Promise<void> {
    await Promise.allSettled([...this.#replacing]);
    const broken = this.handles.filter((handle) => handle.dead || !handle.ready);
    const fresh = broken.map((handle) => {
      handle.terminate();
      return this.handles[handle.index] = this.#spawn(handle.index);
    });
    await Promise.all(fresh.map((handle) => this.#init(handle)));
    for (const handle of fresh) handle.ready = true;
  }

  /** Sends `message` to every worker (and remembers run settings for workers that join later). */
  broadcast(message: ToWorker): void {
    if (message.type === "run") this.#run = { ...message };
    if (message.type === "columns" && this.#run?.run === message.run) {
      this.#run.outputColumns = message.columns;
    }
    for (const handle of this.handles) {
      if (!handle.dead) handle.post(message);
    }
  }

  /** Stops every worker at once; the set cannot be used again. */
  terminate(): void {
    this.#closed = true;
    for (const handle of this.handles) handle.terminate();
  }

  /** Calls every plug-in's close(), then stops the workers; rejects if a close() threw. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const errors = await Promise.all(this.handles.map((handle) => handle.close()));
    const error = errors.find((e) => e !== undefined);
    if (error) throw error;
  }
}
