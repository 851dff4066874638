/**
 * One run of a classifier over one input: the async iterator that
 * {@linkcode classify} and `Pool.classify` return.
 *
 * The iterator is pull-based. Input is read and sent to workers only inside
 * `next()`, a bounded number of chunks ahead (two per worker), so a consumer
 * that stops pulling stops the reading, and memory stays bounded by chunk
 * size times workers. Finished chunks wait in a small map until they can be
 * released: at once when unordered, in sequence when ordered, and once their
 * first record index is known when they carry errors or tagged results.
 *
 * @module
 */

import { RecordTooLong } from "./chunk_reader.ts";
import { CrunchError, ParseError, RecordError, WorkerCrashError } from "./errors.ts";
import { csvCell } from "../workers/encode.ts";
import { type Input, type Task, type TaskSource, taskSource } from "./input.ts";
import { type Base, Ledger } from "./ledger.ts";
import type { Progress, ResolvedRunOptions, Tagged } from "./options.ts";
import type { CountMessage, Failure, PieceMessage } from "./protocol.ts";
import { Flight } from "./flight.ts";
import type { RunListener, WorkerHandle, WorkerSet } from "./workers.ts";

/** Chunks a worker may hold at once: one being classified, one queued behind it. */
const PER_WORKER = 2;

/** How a run obtains its workers and gives them back. */
export interface WorkerLease {
  /** How many workers the run gets. */
  workers: number;
  /** Resolves with started workers; rejects with ModuleError, InitError, ... */
  acquire(): Promise<WorkerSet>;
  /**
   * Called once when the run ends: "done" after a complete run, "abort" after
   * an early end. `set` is undefined when the workers were never acquired.
   */
  release(set: WorkerSet | undefined, how: "done" | "abort"): Promise<void>;
}

type Event =
  | { type: "piece"; worker: WorkerHandle; message: PieceMessage }
  | { type: "count"; worker: WorkerHandle; message: CountMessage }
  | { type: "crash"; worker: WorkerHandle; error: WorkerCrashError }
  | { type: "ready" };

let lastRunId = 0;

const EMPTY: unknown[] = [];

/**
 * What {@linkcode classify} and `Pool.classify` return: an async iterator of
 * the results, which can also hand them over in arrays.
 *
 * @example
 * ```ts ignore
 * import { classify } from "@crunch/crunch";
 *
 * let total = 0;
 * for await (const scores of classify<number>("./score.ts", "big.csv").batches()) {
 *   for (const score of scores) total += score;
 * }
 * ```
 */
export interface Results<R> extends AsyncIterableIterator<R> {
  /**
   * The same results in arrays, each holding what is ready when it is
   * taken (up to a chunk's worth): one promise per array instead of one per
   * result, for consumers that handle millions of results a second. Order,
   * errors and stopping early work as with the results one by one; use one
   * or the other for a run, not both.
   */
  batches(): AsyncIterableIterator<R[]>;
}

/** The iterator over one run's results. */
export class Run<R = unknown> implements Results<R>, RunListener {
  #lease: WorkerLease;
  #options: ResolvedRunOptions;
  #source: TaskSource;
  #set: WorkerSet | undefined;
  #runId = ++lastRunId;
  #state: "new" | "running" | "ended" = "new";
  #sourceDone = false;
  /** Set when the run ends in an error; thrown once the results before it are consumed. */
  #error: { value: unknown } | undefined;
  #acquiring: Promise<WorkerSet> | undefined;
  #gaveBack = false;
  #trailerSent = false;

  // Results ready for the consumer: a queue of arrays, read one value at a time.
  #out: unknown[][] = [];
  #head: unknown[] = EMPTY;
  #at = 0;

  #events: Event[] = [];
  #wake: (() => void) | undefined;
  #busy: Promise<unknown> | undefined;

  #seq = 0;
  #unreleased = 0;
  #maxUnreleased = 0;
  /** Chunks with pieces not yet released, by sequence number. */
  #chunks = new Map<number, { pieces: PieceMessage[]; records: number; final: boolean }>();
  #nextOrdered = 0;
  #ledger = new Ledger(1);
  /** For batches with rows that could not be sent: worker offset → input offset, their failures, and the rows sent. */
  #local = new Map<number, { map: number[]; failures: Failure[]; good: unknown[] }>();

  #stats = { records: 0, results: 0, errors: 0, retries: 0, respawns: 0, isolated: 0, recycled: 0 };
  /** Tasks in flight, by sequence number. */
  #flights = new Map<number, Flight>();
  /** Tasks to send again, first in line for the next free worker. */
  #retry: Flight[] = [];
  /** Worker deaths since a record was last classified. */
  #crashStreak = 0;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** Ranges (workers reading the file): they hold sequence numbers 0 to #ranges - 1. */
  #ranges = 0;
  /** Ranges: cut reports not yet folded into #verified, by sequence number. */
  #cuts = new Map<number, { clean: boolean; end?: number }>();
  /** Ranges: every range before this one was cut right, so its results can go. */
  #verified = 0;
  /** Ranges: where the first range not yet verified starts. */
  #verifiedEnd = 0;
  #fellBack = false;
  #started = 0;
  #onAbort = () => this.#fail(this.#options.signal?.reason);

  /** Checks the input now; reading starts at the first `next()`. */
  constructor(input: Input, options: ResolvedRunOptions, lease: WorkerLease) {
    this.#options = options;
    this.#lease = lease;
    // One worker leaves the main thread idle: its reading is then free parallel work.
    const reader = options.reader ?? (lease.workers > 1 ? "workers" : "main");
    this.#source = taskSource(input, { ...options, reader });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<R> {
    return this;
  }

  next(): Promise<IteratorResult<R>> {
    return this.#next(false) as Promise<IteratorResult<R>>;
  }

  /**
   * The same results in arrays, each holding what is ready when it is
   * taken: one promise per array instead of one per result.
   */
  batches(): AsyncIterableIterator<R[]> {
    const iterator: AsyncIterableIterator<R[]> = {
      next: () => this.#next(true) as Promise<IteratorResult<R[]>>,
      return: (value?: unknown) => this.return(value) as Promise<IteratorResult<R[]>>,
      throw: (error?: unknown) => this.throw(error) as Promise<IteratorResult<R[]>>,
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #next(batch: boolean): Promise<IteratorResult<unknown>> {
    if (this.#busy) {
      const again = () => this.#next(batch);
      return this.#busy.then(again, again);
    }
    if (this.#at < this.#head.length && this.#events.length === 0) {
      return Promise.resolve({ done: false, value: batch ? this.#rest() : this.#head[this.#at++] });
    }
    const pumping = this.#pump(batch);
    this.#busy = pumping;
    const clear = () => {
      this.#busy = undefined;
    };
    pumping.then(clear, clear);
    return pumping;
  }

  /** Stops the run: reading stops and the workers are terminated (or released, for a pool). */
  async return(value?: unknown): Promise<IteratorResult<R>> {
    this.#error ??= { value: undefined };
    this.#end();
    this.#out = [];
    this.#head = EMPTY;
    await this.#giveBack("abort");
    return { done: true, value };
  }

  /** Stops the run like `return()`, then rethrows `error`. */
  async throw(error?: unknown): Promise<IteratorResult<R>> {
    await this.return();
    throw error;
  }

  // --- the pump -----------------------------------------------------------

  async #pump(batch: boolean): Promise<IteratorResult<unknown>> {
    try {
      if (this.#state === "new") await this.#start();
      for (;;) {
        this.#drainEvents();
        const item = this.#take(batch);
        if (item) return item;
        if (this.#error) {
          const { value } = this.#error;
          this.#error = { value: undefined };
          await this.#giveBack("abort");
          if (value === undefined) return { done: true, value: undefined };
          throw value;
        }
        if (this.#state === "ended") return { done: true, value: undefined };
        if (this.#sourceDone && this.#unreleased === 0) {
          const trailer = this.#trailer();
          if (trailer.length && !this.#trailerSent) {
            this.#trailerSent = true;
            this.#out.push(trailer);
            continue;
          }
          this.#end();
          this.#report();
          await this.#giveBack("done");
          return { done: true, value: undefined };
        }
        await this.#dispatch();
        // Nothing to hand out and nothing more to send: wait for a worker (results, a crash,
        // a replacement ready) or for the run to end.
        const finished = this.#sourceDone && this.#unreleased === 0;
        if (this.#events.length === 0 && !this.#error && this.#state === "running" && !finished) {
          await new Promise<void>((resolve) => this.#wake = resolve);
          this.#wake = undefined;
        }
      }
    } catch (error) {
      // The first error wins: an abort that closed the input makes its read fail too.
      this.#fail(error);
      const first = this.#error?.value ?? error;
      this.#error = { value: undefined };
      await this.#giveBack("abort");
      throw first;
    }
  }

  /** The next ready result (or all the results of the array at the head), if any. */
  #take(batch: boolean): IteratorResult<unknown> | undefined {
    while (this.#at >= this.#head.length) {
      const next = this.#out.shift();
      if (next === undefined) {
        this.#head = EMPTY;
        this.#at = 0;
        return undefined;
      }
      this.#head = next;
      this.#at = 0;
    }
    return { done: false, value: batch ? this.#rest() : this.#head[this.#at++] };
  }

  /** The rest of the array at the head, handed over whole when nothing of it was taken. */
  #rest(): unknown[] {
    const rest = this.#at === 0 ? this.#head : this.#head.slice(this.#at);
    this.#head = EMPTY;
    this.#at = 0;
    return rest;
  }

  async #start(): Promise<void> {
    this.#state = "running";
    this.#started = performance.now();
    const { signal, timeout } = this.#options;
    signal?.throwIfAborted();
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    const head = await this.#source.open();
    this.#ledger = new Ledger(head.firstLine);
    this.#acquiring = this.#lease.acquire();
    const set = await this.#acquiring;
    this.#set = set;
    if (this.#state !== "running") return; // ended while starting; #giveBack releases the set
    set.listener = this;
    for (const handle of set.handles) {
      handle.queue = [];
      handle.finished = 0;
    }
    this.#maxUnreleased = set.handles.length * PER_WORKER * 2;
    set.broadcast({
      type: "run",
      run: this.#runId,
      format: head.format,
      columns: head.columns,
      tagged: this.#options.tagged,
      stopOnError: this.#options.onError === "fail",
      encode: this.#options.encode,
    });
    if (timeout !== undefined) {
      this.#watchdog = setInterval(
        () => this.#checkTimeouts(),
        Math.min(250, Math.max(10, timeout / 4)),
      );
    }
  }

  /** Reads and sends tasks while workers have room; tasks to retry go first. */
  async #dispatch(): Promise<void> {
    const set = this.#set!;
    while (this.#state === "running") {
      if (!set.handles.some((h) => h.available && h.inflight < PER_WORKER)) return;
      let flight: Flight;
      if (this.#retry.length) {
        flight = this.#retry.shift()!;
        flight.task = await this.#source.again(flight.task);
        this.#stats.retries++;
      } else {
        if (this.#sourceDone || this.#unreleased >= this.#maxUnreleased) return;
        let task: Task | null;
        try {
          task = await this.#source.next();
        } catch (error) {
          if (!(error instanceof RecordTooLong)) throw error;
          this.#sourceDone = true;
          this.#oversize(error);
          return;
        }
        if (task === null) {
          this.#sourceDone = true;
          return;
        }
        flight = new Flight(this.#seq++, task);
        if (task.kind === "range") {
          if (task.exact) this.#verifiedEnd = task.offset;
          this.#ranges = flight.seq + 1;
        }
        this.#flights.set(flight.seq, flight);
        this.#unreleased++;
      }
      if (this.#state !== "running") return;
      let worker: WorkerHandle | undefined;
      for (const h of set.handles) {
        if (h.available && (worker === undefined || h.inflight < worker.inflight)) worker = h;
      }
      if (worker === undefined) {
        this.#retry.unshift(flight); // every worker is being replaced; try again when one is ready
        return;
      }
      this.#send(worker, flight);
    }
  }

  /** Sends a flight's current range to `worker`. */
  #send(worker: WorkerHandle, flight: Flight): void {
    flight.worker = worker;
    worker.queue.push(flight);
    if (worker.queue.length === 1) flight.startedAt = performance.now();
    const { seq, task } = flight;
    const { from, to } = flight.range;
    const range = {
      from: from || undefined,
      to: to === Infinity ? undefined : to,
      count: flight.retried || undefined,
    };
    if (task.kind === "chunk") {
      const { buffer, start, end } = task.chunk;
      worker.post({ type: "chunk", run: this.#runId, seq, buffer, start, end, ...range }, [
        buffer,
      ]);
    } else if (task.kind === "range") {
      const { path, offset, end, exact } = task;
      const { maxRecordBytes } = this.#options;
      worker.post({
        type: "range",
        run: this.#runId,
        seq,
        path,
        offset,
        end,
        exact,
        maxRecordBytes,
        ...range,
      });
    } else {
      this.#sendBatch(worker, seq, task.rows, range);
    }
  }

  /** Sends a batch; rows that cannot be cloned become failures here. */
  #sendBatch(
    worker: WorkerHandle,
    seq: number,
    rows: unknown[],
    range: { from?: number; to?: number; count?: boolean },
  ): void {
    const local = this.#local.get(seq);
    if (local !== undefined) {
      // A retry: the rows that can be sent were sorted out the first time.
      worker.post({ type: "batch", run: this.#runId, seq, rows: local.good, ...range });
      return;
    }
    try {
      worker.post({ type: "batch", run: this.#runId, seq, rows, ...range });
      return;
    } catch (error) {
      if (!(error instanceof DOMException && error.name === "DataCloneError")) throw error;
    }
    const map: number[] = [];
    const failures: Failure[] = [];
    const good: unknown[] = [];
    rows.forEach((row, offset) => {
      try {
        structuredClone(row);
        map.push(offset);
        good.push(row);
      } catch (error) {
        failures.push({
          kind: "record",
          offset,
          line: 0,
          record: String(row),
          error: {
            name: "DataCloneError",
            message: `the row cannot be sent to a worker: ${(error as Error).message}`,
          },
        });
      }
    });
    this.#local.set(seq, { map, failures, good });
    worker.post({ type: "batch", run: this.#runId, seq, rows: good, ...range });
  }

  /** A record outgrew maxRecordBytes: report it, with its line, once earlier chunks are counted. */
  #oversize(error: RecordTooLong): void {
    const seq = this.#seq++;
    this.#unreleased++;
    this.#addPiece({
      type: "partial",
      run: this.#runId,
      seq,
      results: [],
      records: 0,
      failures: [{
        kind: "parse",
        offset: 0,
        line: 1,
        fatal: true,
        error: { name: "ParseError", message: error.message },
      }],
    });
    this.#complete(seq, 0);
  }

  // --- events from workers ------------------------------------------------

  /** A worker sent results of a chunk (called by the worker set). */
  piece(worker: WorkerHandle, message: PieceMessage): void {
    if (message.run !== this.#runId) return;
    if (message.json !== undefined) {
      message.results = JSON.parse(message.json);
      message.json = undefined;
    }
    this.#events.push({ type: "piece", worker, message });
    this.#wake?.();
  }

  /** A worker counted the records of a retried chunk (called by the worker set). */
  count(worker: WorkerHandle, message: CountMessage): void {
    if (message.run !== this.#runId) return;
    this.#events.push({ type: "count", worker, message });
    this.#wake?.();
  }

  /** A worker died (called by the worker set). */
  crash(worker: WorkerHandle, error: WorkerCrashError): void {
    this.#events.push({ type: "crash", worker, error });
    this.#wake?.();
  }

  #drainEvents(): void {
    if (this.#events.length === 0) return;
    const events = this.#events;
    this.#events = [];
    for (const event of events) {
      if (this.#state !== "running") return;
      if (event.type === "ready") continue;
      if (event.type === "crash") {
        this.#onCrash(event.worker, event.error);
        continue;
      }
      const flight = this.#flights.get(event.message.seq);
      // Messages from a worker already given up on (timed out) are dropped: its work is redone.
      if (flight === undefined || flight.worker !== event.worker) continue;
      if (flight.discarded) {
        if (event.type === "piece" && event.message.type === "done") {
          this.#flights.delete(flight.seq);
          this.#free(event.worker);
        }
        continue;
      }
      if (event.type === "count") {
        flight.records = event.message.records;
        flight.lines = event.message.lines;
        flight.newlines = event.message.newlines;
        if (event.message.clean !== undefined) this.#cut(event.message);
        continue;
      }
      const message = event.message;
      if (message.records > message.failures.length) this.#crashStreak = 0;
      flight.advance(message.records);
      this.#addPiece(message);
      if (message.type === "done") {
        flight.newlines = message.newlines;
        this.#finishDispatch(event.worker, flight);
      }
    }
    this.#releaseReady();
  }

  /** Adds a piece of results to its chunk, mapping batch offsets back where rows were held back. */
  #addPiece(message: PieceMessage): void {
    const piece = this.#merge(message);
    let chunk = this.#chunks.get(piece.seq);
    if (chunk === undefined) {
      chunk = { pieces: [], records: 0, final: false };
      this.#chunks.set(piece.seq, chunk);
    }
    chunk.pieces.push(piece);
    chunk.records += piece.records;
  }

  /** A chunk's last record is reported: it can be numbered and released. */
  #complete(seq: number, newlines: number): void {
    const local = this.#local.get(seq);
    if (local !== undefined && local.failures.length) {
      this.#addPiece({
        type: "partial",
        run: this.#runId,
        seq,
        results: [],
        records: local.failures.length,
        failures: local.failures.map((f) => ({ ...f, offset: -1 - f.offset })),
      });
    }
    this.#local.delete(seq);
    const task = this.#flights.get(seq)?.task;
    if (task?.kind === "range") this.#source.finished?.(task);
    this.#flights.delete(seq);
    const chunk = this.#chunks.get(seq)!;
    chunk.final = true;
    this.#ledger.report(seq, chunk.records, newlines);
  }

  /** A range reported where it was cut: verify the ranges in order, fall back at a wrong cut. */
  #cut(message: CountMessage): void {
    if (this.#fellBack || message.seq >= this.#ranges || message.seq < this.#verified) return;
    // An empty range (no record starts in it) moves no boundary.
    const end = message.end! > message.start! ? message.end : undefined;
    this.#cuts.set(message.seq, { clean: message.clean!, end });
    for (let c = this.#cuts.get(this.#verified); c?.clean; c = this.#cuts.get(this.#verified)) {
      this.#cuts.delete(this.#verified++);
      if (c.end !== undefined) this.#verifiedEnd = c.end;
    }
    if (this.#cuts.get(this.#verified)?.clean === false) this.#fallBack();
  }

  /**
   * The range at #verified was cut wrong (its last LF lies inside a quoted
   * field), so it and every range after it are dropped, with nothing of them
   * released, and the main thread reads the rest of the file from where the
   * verified ranges end.
   */
  #fallBack(): void {
    this.#fellBack = true;
    this.#cuts.clear();
    // From the last down, so that no range's own count is folded in before it is zeroed.
    for (let seq = this.#ranges - 1; seq >= this.#verified; seq--) {
      const flight = this.#flights.get(seq);
      if (flight !== undefined) {
        flight.discarded = true;
        if (flight.worker === undefined) this.#flights.delete(seq); // waiting to be retried
      }
      this.#chunks.set(seq, { pieces: [], records: 0, final: true });
      this.#ledger.report(seq, 0, 0);
    }
    this.#retry = this.#retry.filter((flight) => !flight.discarded);
    this.#source.fallBack!(this.#verifiedEnd);
    this.#sourceDone = false;
  }

  /** `worker` is done with the head of its queue. */
  #free(worker: WorkerHandle): void {
    worker.queue.shift();
    if (worker.queue.length) worker.queue[0].startedAt = performance.now();
  }

  /** The worker finished its range of `flight`. */
  #finishDispatch(worker: WorkerHandle, flight: Flight): void {
    this.#free(worker);
    worker.finished++;
    flight.worker = undefined;
    if (flight.finishRange()) this.#complete(flight.seq, flight.newlines ?? 0);
    else this.#retry.unshift(flight);
    const { maxChunksPerWorker } = this.#options;
    if (maxChunksPerWorker !== undefined && worker.finished >= maxChunksPerWorker) {
      worker.retiring = true;
    }
    if (worker.retiring && worker.queue.length === 0) {
      this.#stats.recycled++;
      this.#replace(worker, true);
    }
  }

  /** Starts a replacement for `worker`; a replacement that cannot start ends the run. */
  #replace(worker: WorkerHandle, graceful: boolean): void {
    this.#set!.replace(worker.index, graceful).then(
      () => {
        this.#events.push({ type: "ready" });
        this.#wake?.();
      },
      (error) => this.#fail(error),
    );
  }

  /** A worker died: replace it, and re-run what it held (bisecting a chunk that keeps killing workers). */
  #onCrash(worker: WorkerHandle, error: WorkerCrashError): void {
    for (const flight of worker.queue) if (flight.discarded) this.#flights.delete(flight.seq);
    const flights = worker.queue.filter((flight) => !flight.discarded);
    worker.queue = [];
    this.#stats.respawns++;
    this.#crashStreak++;
    const { maxRespawns } = this.#options;
    if (this.#crashStreak > maxRespawns) {
      this.#fail(
        new WorkerCrashError(
          worker.index,
          `${
            error.message.replace(/^worker \d+ died: /, "")
          }; workers died ${this.#crashStreak} times ` +
            `in a row without finishing a record, so the run gave up (maxRespawns: ${maxRespawns})`,
          { cause: error },
        ),
      );
      return;
    }
    for (const flight of flights) {
      flight.worker = undefined;
      flight.retried = true;
    }
    const head = flights[0];
    if (head) {
      const verdict = head.crashed();
      if (verdict.kind === "poison") {
        this.#stats.isolated++;
        this.#addPiece({
          type: "partial",
          run: this.#runId,
          seq: head.seq,
          results: [],
          records: 1,
          failures: [{
            kind: "record",
            offset: verdict.offset,
            line: head.lines?.[verdict.offset] ?? 0,
            error: {
              name: "WorkerCrashError",
              message: `the worker died while classifying this record (${error.message})`,
            },
          }],
        });
        if (head.skipPoison()) {
          flights.shift();
          this.#complete(head.seq, head.newlines ?? 0);
        }
      }
    }
    this.#retry.unshift(...flights);
    this.#replace(worker, false);
  }

  /** Gives up on a worker whose current chunk ran past the timeout. */
  #checkTimeouts(): void {
    const { timeout } = this.#options;
    const now = performance.now();
    for (const worker of this.#set?.handles ?? []) {
      const head = worker.queue[0];
      if (!worker.dead && head && now - head.startedAt > timeout!) {
        worker.kill(
          new WorkerCrashError(worker.index, `a chunk ran past the timeout of ${timeout} ms`),
        );
      }
    }
  }

  /** Maps a batch's piece back to input offsets where rows were held back on the main thread. */
  #merge(message: PieceMessage): PieceMessage {
    const local = this.#local.get(message.seq);
    if (local === undefined) return message;
    const { map } = local;
    // Offsets below 0 are already input offsets (-1 - offset): failures found on the main thread.
    const place = (offset: number) => offset < 0 ? -1 - offset : map[offset];
    const failures = message.failures.map((f) => ({ ...f, offset: place(f.offset) }));
    failures.sort((a, b) => a.offset - b.offset);
    return { ...message, failures, offsets: message.offsets?.map(place) };
  }

  #releaseReady(): void {
    if (this.#options.ordered) {
      for (;;) {
        const chunk = this.#chunks.get(this.#nextOrdered);
        if (chunk === undefined) return;
        if (!this.#flush(this.#nextOrdered, chunk)) return;
        if (!chunk.final || chunk.pieces.length) return;
        this.#retire(this.#nextOrdered++);
      }
    }
    const seqs = [...this.#chunks.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      const chunk = this.#chunks.get(seq)!;
      if (!this.#flush(seq, chunk)) return;
      if (chunk.final && chunk.pieces.length === 0) this.#retire(seq);
    }
  }

  /** Releases a chunk's pieces in order while their positions are known; false when the run ended. */
  #flush(seq: number, chunk: { pieces: PieceMessage[] }): boolean {
    // A range waits until every range before it is known to be cut right.
    if (seq >= this.#verified && seq < this.#ranges && !this.#fellBack) return true;
    while (chunk.pieces.length) {
      const piece = chunk.pieces[0];
      const base = this.#ledger.base(seq);
      if ((this.#options.tagged || piece.failures.length > 0) && base === undefined) return true;
      chunk.pieces.shift();
      if (!this.#release(piece, base!)) return false;
    }
    return true;
  }

  #retire(seq: number): void {
    this.#chunks.delete(seq);
    this.#ledger.forget(seq);
    this.#unreleased--;
  }

  /** Hands a piece's results and errors on; false when the run has ended. */
  #release(message: PieceMessage, base: Base): boolean {
    if (message.encoded) {
      if (!this.#writeEncoded(message, base)) return false;
    } else {
      const results = this.#options.tagged ? this.#tag(message, base) : message.results;
      if (results.length) this.#out.push(results);
      this.#stats.results += results.length;
    }
    this.#stats.records += message.records;
    this.#stats.errors += message.failures.length;
    for (const failure of message.failures) {
      const error = this.#errorOf(failure, base);
      const { onError } = this.#options;
      if (onError === "fail" || failure.fatal) {
        this.#fail(error);
        return false;
      }
      if (onError !== "skip") {
        try {
          onError(error);
        } catch (thrown) {
          this.#fail(thrown);
          return false;
        }
      }
    }
    this.#report();
    return true;
  }

  /** The output document so far: whether anything was written, and the CSV columns. */
  #document: { started: boolean; columns?: string[] } = { started: false };
  #encoder = new TextEncoder();

  /** Queues a piece of serialized results, with the document's header or separators. */
  #writeEncoded(message: PieceMessage, base: Base): boolean {
    const encoded = message.encoded!;
    if (encoded.count === 0) return true;
    const format = this.#options.encode!;
    const { tagged } = this.#options;
    const doc = this.#document;
    const pieces: Uint8Array[] = [];
    const text = (s: string) => pieces.push(this.#encoder.encode(s));
    if (format === "csv") {
      const columns = encoded.columns!;
      if (doc.columns === undefined) {
        doc.columns = columns;
        this.#set?.broadcast({ type: "columns", run: this.#runId, columns });
        const header = tagged ? ["index", "line", ...columns] : columns;
        text(header.map(csvCell).join(",") + "\n");
      } else if (columns.join("\0") !== doc.columns.join("\0")) {
        const at = base.index + (message.offsets?.[0] ?? 0);
        this.#fail(
          new CrunchError(
            `CSV output: results near record ${at} have the keys ${columns.join(", ")}, ` +
              `but the first result fixed the columns as ${doc.columns.join(", ")}`,
          ),
        );
        return false;
      }
    }
    if (format === "json") text(doc.started ? ",\n" : "[\n");
    doc.started = true;
    if (encoded.bytes) pieces.push(encoded.bytes);
    if (encoded.texts) {
      const { offsets = [], lines } = message;
      const lineOf = (k: number) => lines ? base.line + lines[k] - 1 : undefined;
      const rows = encoded.texts.map((t, k) => {
        const index = base.index + offsets[k];
        if (format === "csv") return `${index},${lineOf(k) ?? ""},${t}`;
        const line = lines ? `,"line":${lineOf(k)}` : "";
        return `{"index":${index}${line},"result":${t}}`;
      });
      text(format === "json" ? rows.join(",\n") : rows.join("\n") + "\n");
    }
    this.#out.push(pieces);
    this.#stats.results += encoded.count;
    return true;
  }

  /** The end of the output document (JSON's closing bracket). */
  #trailer(): Uint8Array[] {
    if (this.#options.encode !== "json") return [];
    return [this.#encoder.encode(this.#document.started ? "\n]\n" : "[]\n")];
  }

  #tag(message: PieceMessage, base: Base): Tagged[] {
    const { results, offsets = [], lines } = message;
    const tagged: Tagged[] = new Array(results.length);
    for (let k = 0; k < results.length; k++) {
      tagged[k] = lines
        ? { index: base.index + offsets[k], line: base.line + lines[k] - 1, result: results[k] }
        : { index: base.index + offsets[k], result: results[k] };
    }
    return tagged;
  }

  #errorOf(failure: Failure, base: Base): RecordError | ParseError {
    const index = base.index + failure.offset;
    const file = this.#source.file;
    const line = failure.line > 0 ? base.line + failure.line - 1 : undefined;
    if (failure.kind === "parse") {
      return new ParseError(failure.error.message, { file, line: line ?? 0, index });
    }
    return new RecordError({ index, line, file }, failure.record, failure.error);
  }

  #report(): void {
    const { onProgress } = this.#options;
    if (!onProgress) return;
    const progress: Progress = {
      ...this.#stats,
      bytesRead: this.#source.bytesRead,
      bytesTotal: this.#source.bytesTotal,
      reader: this.#source.reader,
      elapsedMs: performance.now() - this.#started,
    };
    onProgress(progress);
  }

  // --- ending -------------------------------------------------------------

  /** Ends the run with `error` after the results already released; stops work at once. */
  #fail(error: unknown): void {
    if (this.#state === "ended") return;
    this.#error = { value: error };
    this.#end();
    this.#wake?.();
    // Stop the workers now, not when the consumer next pulls.
    this.#giveBack("abort").catch(() => {});
  }

  #end(): void {
    if (this.#state === "ended") return;
    this.#state = "ended";
    clearInterval(this.#watchdog);
    this.#wake?.();
    this.#source.close();
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
  }

  /** Gives the workers back exactly once, waiting for them if they are still starting. */
  async #giveBack(how: "done" | "abort"): Promise<void> {
    if (this.#gaveBack) return;
    this.#gaveBack = true;
    const set = await this.#acquiring?.catch(() => undefined);
    if (set) {
      if (set.listener === this) set.listener = undefined;
      if (how === "abort") set.broadcast({ type: "cancel", run: this.#runId });
    }
    await this.#lease.release(set, how);
  }
}
