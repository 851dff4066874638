/**
 * The life of one run: open the input, start a run on the backend, then
 * pump: hand out what is ready, dispatch while there is room, and wait for
 * the backend's next event; end exactly once, with an error or without.
 *
 * The pump is pull-based: input is read and sent only inside `next()`, a
 * bounded number of tasks ahead, so a consumer that stops pulling stops the
 * reading, and memory stays bounded by chunk size times workers.
 *
 * @module
 */

import type { SplitAnswer } from "../wire/protocol.ts";
import { runSettings } from "./run_settings.ts";
import { StallWatch } from "./stall_watch.ts";
import type { WorkerCrashError } from "../errors.ts";
import { type Input, planInput } from "../input/source.ts";
import type { InputPlan, SourceHead, TaskSource } from "../input/task.ts";
import type { ResolvedRunOptions } from "../options.ts";
import type { ResultsPiece, TaskCount } from "../wire/task.ts";
import type { Backend, BackendListener, BackendRun, WorkerNote } from "../backends/backend.ts";
import { OutputDocument } from "./document.ts";
import { Ledger } from "./ledger.ts";
import { ReportBuilder } from "./report_builder.ts";
import type { RunReport } from "../report.ts";
import { Outbox } from "./outbox.ts";
import { type Checkpoint, Release, releaseOptionsOf } from "./release.ts";
import { Scheduler } from "./scheduler.ts";
import { Stats } from "./stats.ts";

/** How a run obtains its backend and gives it back. */
export interface Lease {
  /** How many workers the run gets. */
  workers: number;
  /**
   * Resolves with started workers; rejects with ModuleError, InitError, ...,
   * or with `signal`'s reason as soon as it aborts (the run ended while the
   * workers were loading the module or running init). `tasks` is the most
   * tasks the input can make, when known: a lease that starts workers for
   * the run starts no more than that. `head` is what the input's first bytes
   * said (format, columns).
   */
  acquire(signal: AbortSignal, tasks?: number, head?: SourceHead): Promise<Backend>;
  /**
   * Called once when the run ends: "done" after a complete run, "abort"
   * after an early end. `backend` is undefined when it was never acquired.
   * Resolves with warnings for the run's final progress report, if any.
   */
  release(backend: Backend | undefined, how: "done" | "abort"): Promise<string[] | void>;
}

type Event =
  | { type: "piece"; piece: ResultsPiece }
  | { type: "count"; count: TaskCount }
  | { type: "lost"; seqs: number[]; error: WorkerCrashError }
  | { type: "ready" }
  | { type: "failed"; error: unknown };

/** What the consumer's iterator drives: one input's {@linkcode Engine}, or several in turn. */
export interface Pump {
  /** The next value, when one is ready without waiting. */
  takeReady(batch: boolean): { value: unknown } | undefined;
  /** The next value (or array of values), waiting for it as needed. */
  next(batch: boolean): Promise<IteratorResult<unknown>>;
  /** Stops the run. */
  stop(): Promise<void>;
  /** The last resumable point before the consumer's last `behind` values, for runs that mark them. */
  checkpoint?(behind?: number): Checkpoint | undefined;
  /** Where the run's time went, so far (undefined before it starts). */
  report(): RunReport | undefined;
}

/** For a run that is one of several over one document (many files). */
export interface Part {
  /** The output document the runs share (encode). */
  document?: OutputDocument;
  /** Whether this run ends the document (its JSON bracket). */
  last: boolean;
}

/** One run over one input; the iterator's engine. */
export class Engine implements BackendListener, Pump {
  readonly #options: ResolvedRunOptions;
  readonly #lease: Lease;
  readonly #plan: InputPlan;
  #source: TaskSource | undefined;
  readonly #outbox = new Outbox();
  readonly #stats = new Stats();
  #state: "new" | "running" | "ended" = "new";
  /** Set when the run ends in an error; thrown once the results before it are consumed. */
  #error: { value: unknown } | undefined;
  #acquiring: Promise<Backend> | undefined;
  #backendRun: BackendRun | undefined;
  /** The backend given back (once): later callers wait for the same. */
  #gaveBack: Promise<string[] | void> | undefined;
  #trailerSent = false;
  #release: Release | undefined;
  #scheduler: Scheduler | undefined;
  #document: OutputDocument | undefined;
  readonly #part: Part | undefined;
  #events: Event[] = [];
  #wake: (() => void) | undefined;
  #interrupt: (() => void) | undefined; // stops a dispatch waiting for a read, when events come
  /** An abort ends the run at once: results not yet taken are dropped, the next `next()` rejects. */
  #onAbort = () => {
    this.#outbox.clear();
    this.#fail(this.#options.signal?.reason);
  };
  /** Aborts the workers' start when the run ends before they are ready. */
  #starting = new AbortController();
  #stall: StallWatch | undefined; // says when a task's records stop finishing
  #builder: ReportBuilder | undefined; // gathers the run's report, once it starts

  /** Checks the input now; reading starts at the first `next()`. */
  constructor(input: Input, options: ResolvedRunOptions, lease: Lease, part?: Part) {
    this.#options = options;
    this.#lease = lease;
    this.#part = part;
    // One worker leaves the main thread idle: its reading is then free parallel work.
    const reader = options.reader ?? (lease.workers > 1 ? "workers" : "main");
    this.#plan = planInput(input, { ...options, reader, workers: lease.workers });
  }

  /** The resumable point reached before the last `behind` values taken, once; else undefined. */
  checkpoint(behind = 0): Checkpoint | undefined {
    return this.#outbox.passed(behind) as Checkpoint | undefined;
  }

  /** The next value, when one is ready without waiting for anything or handling an event. */
  takeReady(batch: boolean): { value: unknown } | undefined {
    if (!this.#outbox.headReady || this.#events.length) return undefined;
    return this.#outbox.take(batch);
  }

  /** The next value (or array of values), waiting for it as needed. */
  async next(batch: boolean): Promise<IteratorResult<unknown>> {
    const started = performance.now();
    try {
      if (this.#state === "new") await this.#start();
      for (;;) {
        this.#drainEvents();
        const item = this.#outbox.take(batch);
        if (item) return { done: false, value: item.value };
        if (this.#error) {
          const { value } = this.#error;
          this.#error = { value: undefined };
          await this.#giveBack("abort");
          if (value === undefined) return { done: true, value: undefined };
          throw value;
        }
        if (this.#state === "ended") return { done: true, value: undefined };
        if (this.#finished()) {
          const trailer = this.#part?.last === false ? [] : this.#document?.trailer() ?? [];
          if (trailer.length && !this.#trailerSent) {
            this.#trailerSent = true;
            this.#outbox.push(trailer);
            continue;
          }
          this.#end();
          const warnings = await this.#giveBack("done");
          if (warnings?.length) this.#stats.warnings.push(...warnings);
          this.#report();
          return { done: true, value: undefined };
        }
        const interrupt = new Promise<undefined>((resolve) => {
          this.#interrupt = () => resolve(undefined);
        });
        if (this.#events.length) this.#interrupt!();
        await this.#scheduler!.dispatch(
          this.#backendRun!,
          () => this.#state === "running",
          interrupt,
        );
        this.#interrupt = undefined;
        // Dispatch itself can make results or errors ready (a record longer than
        // maxRecordBytes ends the input with one): hand them on before waiting. Events that
        // came meanwhile are handled at the top of the loop, before the next dispatch.
        this.#flush();
        if (this.#outbox.ready || this.#error || this.#state !== "running") continue;
        // Nothing to hand out and nothing more to send: wait for the backend (results, a
        // death, a replacement ready) or for the run to end. A read left pending is taken up
        // by the next dispatch; waiting on it here would spin once it has settled while
        // there is no room to send what it read.
        if (this.#events.length === 0 && !this.#error && this.#state === "running") {
          if (!this.#finished()) {
            await this.#scheduler!.sleep(new Promise<void>((resolve) => this.#wake = resolve));
            this.#wake = undefined;
          }
        }
      }
    } catch (error) {
      // The first error wins: an abort that closed the input makes its read fail too.
      this.#fail(error);
      const first = this.#error?.value ?? error;
      this.#error = { value: undefined };
      await this.#giveBack("abort");
      throw first;
    } finally {
      this.#builder?.waited(started); // the rest of the run is the consumer's
    }
  }

  /** Every task is released and nothing more will come. */
  #finished(): boolean {
    return this.#scheduler!.done && this.#release!.open === 0;
  }

  /** Stops the run: reading stops and the workers are stopped (or given back, for a pool). */
  async stop(): Promise<void> {
    this.#error ??= { value: undefined };
    this.#end();
    this.#outbox.clear();
    await this.#giveBack("abort");
  }

  async #start(): Promise<void> {
    this.#state = "running";
    const options = this.#options;
    options.signal?.throwIfAborted();
    options.signal?.addEventListener("abort", this.#onAbort, { once: true });
    const { head, source, warnings } = await this.#plan.open();
    this.#source = source;
    for (const warning of warnings ?? []) this.#stats.warnOnce(warning);
    const ledger = new Ledger(head.firstLine, options.startAt?.index ?? 0);
    if (options.encode) {
      this.#document = this.#part?.document ?? new OutputDocument(options.encode, options.tagged);
      this.#document.listen((columns) => this.#backendRun?.update({ outputColumns: columns }));
      if (options.documentState) this.#document.restore(options.documentState);
    }
    this.#release = new Release(
      releaseOptionsOf(options, head, source.file),
      ledger,
      this.#outbox,
      this.#stats,
      this.#document,
      (seq) => source.held(seq),
    );
    this.#acquiring = this.#lease.acquire(this.#starting.signal, head.tasks, head);
    const backend = await this.#acquiring;
    if (this.#state !== "running") return; // ended while starting; #giveBack releases it
    const builder = this.#builder = await ReportBuilder.start(source.file, backend, ledger);
    this.#scheduler = new Scheduler(source, this.#release, this.#stats, {
      ...options, // maxRespawns, speculate
      maxOpen: backend.capacity * 2,
      backlog: () => this.#release!.bytes + this.#outbox.bytes,
      report: builder,
    });
    this.#backendRun = await backend.begin(
      // A document that an earlier run began has its CSV columns already.
      runSettings(head, options, backend.size, this.#document?.columns, builder.traceparent),
      { timeout: options.timeout, maxChunksPerWorker: options.maxChunksPerWorker },
      this,
    );
    if (this.#state !== "running") return this.#backendRun.end(true);
    if (options.stall <= 0) return;
    this.#stall = new StallWatch(options.stall, {
      flights: () => this.#scheduler!.flights(),
      base: (seq) => ledger.start(seq),
      holder: (seq) => this.#backendRun?.holder?.(seq),
      file: source.file,
      stats: this.#stats,
      report: () => this.#report(),
    });
  }

  // --- the backend's events: queued, handled by the pump -------------------

  piece(piece: ResultsPiece): void {
    this.#push({ type: "piece", piece });
  }

  count(count: TaskCount): void {
    this.#push({ type: "count", count });
  }

  split(answer: SplitAnswer): void {
    if (this.#state === "running") this.#scheduler?.split(answer); // limits later pieces only
  }

  lost(seqs: number[], error: WorkerCrashError): void {
    this.#push({ type: "lost", seqs, error });
  }

  ready(): void {
    this.#push({ type: "ready" });
  }

  note(note: WorkerNote): void {
    if (note.kind === "recycled") this.#stats.recycled++;
  }

  failed(error: unknown): void {
    this.#fail(error);
  }

  waiting(what: string | undefined): void {
    if (this.#stats.wait(what)) this.#report();
  }

  #push(event: Event): void {
    this.#events.push(event);
    this.#wake?.();
    this.#interrupt?.();
  }

  #drainEvents(): void {
    if (this.#state !== "running" || !this.#scheduler || !this.#events.length) return;
    const started = performance.now();
    const events = this.#events;
    this.#events = [];
    const scheduler = this.#scheduler!;
    for (const event of events) {
      if (this.#state !== "running") return;
      if (event.type === "piece") {
        scheduler.piece(event.piece);
        if (event.piece.records > 0) this.#stall?.progressed(event.piece.id);
      } else if (event.type === "count") {
        const error = scheduler.count(event.count);
        if (error !== undefined) return this.#fail(error);
      } else if (event.type === "lost") {
        const error = scheduler.lost(event.seqs, event.error);
        if (error) return this.#fail(error);
      }
    }
    this.#flush();
    if (this.#builder) this.#builder.main.releaseMs += performance.now() - started;
  }

  /** Where the run's time went, so far (undefined before it starts). */
  report(): RunReport | undefined {
    return this.#builder?.build(this.#stats);
  }

  /** Releases what is ready, and ends the run if that brings its error. */
  #flush(): void {
    if (this.#state !== "running" || this.#release === undefined) return;
    const error = this.#release.flush();
    this.#report();
    if (error !== undefined) this.#fail(error);
  }

  #report(): void {
    if (this.#source === undefined) return;
    this.#options.onProgress?.(this.#stats.snapshot(this.#source));
  }

  // --- ending -------------------------------------------------------------

  /** Ends the run with `error` after the results already released; stops work at once. */
  #fail(error: unknown): void {
    if (this.#state === "ended") return;
    this.#error = { value: error };
    this.#end();
    // Stop the workers now, not when the consumer next pulls.
    this.#giveBack("abort").catch(() => {});
  }

  #end(): void {
    if (this.#state === "ended") return;
    this.#state = "ended";
    this.#builder?.finish(this.#stats, this.#error?.value);
    this.#stall?.stop();
    this.#interrupt?.();
    this.#starting.abort(this.#error?.value ?? new Error("the run ended"));
    this.#wake?.();
    this.#plan.close();
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
  }

  /** Gives the backend back exactly once, waiting for it if it is still starting. */
  #giveBack(how: "done" | "abort"): Promise<string[] | void> {
    return this.#gaveBack ??= this.#giveBackNow(how);
  }

  async #giveBackNow(how: "done" | "abort"): Promise<string[] | void> {
    const backend = await this.#acquiring?.catch(() => undefined);
    this.#backendRun?.end(how === "abort");
    return await this.#lease.release(backend, how);
  }
}
