/**
 * Dispatch with retries: reads tasks from the source while the backend has
 * room, keeps each in a {@linkcode Flight} until all its records are
 * reported, and when a worker dies re-sends what it held, bisecting a task
 * that keeps killing workers until the one record that does is isolated.
 *
 * @module
 */

import { RecordTooLong } from "../input/chunk_reader.ts";
import { InputError, WorkerCrashError } from "../errors.ts";
import type { Task, TaskSource } from "../input/source.ts";
import type { CountMessage, Failure, PieceMessage } from "../wire/protocol.ts";
import type { BackendRun, TaskMessage } from "../backends/backend.ts";
import type { Cuts } from "./cuts.ts";
import { Flight } from "./flight.ts";
import type { Piece, Release } from "./release.ts";
import type { Stats } from "./stats.ts";

/** Bytes of results waiting for the consumer above which no new task is read. */
const MAX_BACKLOG = 256 << 20;

/** What the scheduler needs to know of the run. */
export interface SchedulerOptions {
  run: number;
  maxRespawns: number;
  maxRecordBytes: number;
  /** Tasks dispatched and not yet released that make dispatch wait. */
  maxOpen: number;
  /** About how many bytes of results wait for the consumer (released or not). */
  backlog: () => number;
}

/** A batch some of whose rows could not be sent: which were sent, and the others' failures. */
interface HeldBack {
  /** Input offset of each row sent, by its offset in what was sent. */
  map: number[];
  failures: Failure[];
  sent: unknown[];
}

/** The run's tasks from the source until their records are all reported. */
export class Scheduler {
  readonly #source: TaskSource;
  readonly #release: Release;
  readonly #cuts: Cuts;
  readonly #stats: Stats;
  readonly #options: SchedulerOptions;
  /** Tasks in flight, by sequence number. */
  #flights = new Map<number, Flight>();
  /** Tasks to send again, first in line for the next free worker. */
  #retry: Flight[] = [];
  #seq = 0;
  /** Worker deaths since a record was last classified. */
  #crashStreak = 0;
  #sourceDone = false;
  #heldBack = new Map<number, HeldBack>();
  /** A read of the source not yet taken up. */
  #reading: Promise<{ task: Task | null } | { error: unknown }> | undefined;
  /** The file that ranges read. */
  #path = "";
  /** The bytes of each range as first handed out, until it is finished (for bytesRead). */
  #rangeBytes = new Map<number, number>();

  constructor(
    source: TaskSource,
    release: Release,
    cuts: Cuts,
    stats: Stats,
    options: SchedulerOptions,
  ) {
    this.#source = source;
    this.#release = release;
    this.#cuts = cuts;
    this.#stats = stats;
    this.#options = options;
  }

  /** True when the source is exhausted and nothing waits to be re-sent. */
  get done(): boolean {
    return this.#sourceDone && this.#retry.length === 0;
  }

  /**
   * Reads and sends tasks while the backend has room; tasks to retry go
   * first. `live` says whether the run is still going (it can end while a
   * read is awaited); `interrupt` resolves when events wait to be handled,
   * which stops the wait for a read.
   */
  async dispatch(
    backend: BackendRun,
    live: () => boolean,
    interrupt: Promise<undefined>,
  ): Promise<void> {
    while (live() && backend.room() > 0) {
      let flight: Flight;
      if (this.#retry.length) {
        flight = this.#retry.shift()!;
        flight.task = await this.#source.again(flight.task);
        if (!flight.redo) this.#stats.retries++;
      } else {
        const { maxOpen, backlog } = this.#options;
        // Bounded memory: a few tasks per worker, and a bounded amount of results waiting.
        if (this.#sourceDone || this.#release.open >= maxOpen || backlog() > MAX_BACKLOG) return;
        // A read can wait long (a slow pipe): events that come meanwhile go first, and the
        // same read is taken up again at the next dispatch.
        this.#reading ??= this.#source.next().then(
          (task) => ({ task }),
          (error) => ({ error }),
        );
        const read = await Promise.race([this.#reading, interrupt]);
        if (read === undefined) return;
        this.#reading = undefined;
        if ("error" in read) {
          if (!(read.error instanceof RecordTooLong)) throw read.error;
          this.#sourceDone = true;
          this.#oversize(read.error);
          return;
        }
        const task = read.task;
        if (task === null) {
          this.#sourceDone = true;
          return;
        }
        flight = new Flight(this.#seq++, task);
        if (task.kind === "range") {
          this.#cuts.added(flight.seq, task.offset, task.end, task.exact);
          this.#rangeBytes.set(flight.seq, task.end - task.offset);
          this.#path = task.path;
        }
        this.#flights.set(flight.seq, flight);
        this.#release.opened();
      }
      if (!live()) return;
      if (backend.room() === 0) {
        this.#retry.unshift(flight); // the workers are being replaced: again when one is ready
        return;
      }
      this.#send(backend, flight);
    }
  }

  /** Sends a flight's current range of records. */
  #send(backend: BackendRun, flight: Flight): void {
    const { seq, task } = flight;
    const { from, to } = flight.range;
    const range = {
      from: from || undefined,
      to: to === Infinity ? undefined : to,
      count: flight.retried || undefined,
    };
    const run = this.#options.run;
    flight.sent = true;
    if (task.kind === "chunk") {
      const { buffer, start, end, offset } = task.chunk;
      backend.send({ type: "chunk", run, seq, buffer, start, end, offset, ...range }, [buffer]);
    } else if (task.kind === "range") {
      const { path, offset, end, exact } = task;
      const { maxRecordBytes } = this.#options;
      const { fingerprint } = task;
      backend.send({
        type: "range",
        run,
        seq,
        path,
        offset,
        end,
        exact,
        maxRecordBytes,
        fingerprint,
        ...range,
      });
    } else {
      this.#sendBatch(backend, { type: "batch", run, seq, rows: task.rows, ...range });
    }
  }

  /** Sends a batch; rows that cannot be sent become failures of their own here. */
  #sendBatch(backend: BackendRun, message: TaskMessage & { type: "batch" }): void {
    const held = this.#heldBack.get(message.seq);
    if (held !== undefined) {
      // A retry: the rows that can be sent were sorted out the first time.
      backend.send({ ...message, rows: held.sent });
      return;
    }
    try {
      backend.send(message);
      return;
    } catch (error) {
      if (!(error instanceof DOMException && error.name === "DataCloneError")) throw error;
    }
    const map: number[] = [];
    const failures: Failure[] = [];
    const sent: unknown[] = [];
    message.rows.forEach((row, offset) => {
      try {
        structuredClone(row);
        map.push(offset);
        sent.push(row);
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
    this.#heldBack.set(message.seq, { map, failures, sent });
    backend.send({ ...message, rows: sent });
  }

  /** A record outgrew maxRecordBytes: report it, with its line, once earlier tasks are counted. */
  #oversize(error: RecordTooLong): void {
    const seq = this.#seq++;
    this.#release.opened();
    this.#release.add({
      seq,
      records: 0,
      results: [],
      failures: [{
        kind: "parse",
        offset: 0,
        line: 1,
        fatal: true,
        error: { name: "ParseError", message: error.message },
      }],
    });
    this.#release.complete(seq, 0);
  }

  /** A piece of a task's results. */
  piece(message: PieceMessage): void {
    const flight = this.#flights.get(message.seq);
    // Messages of a task no worker holds (any more) are dropped: its work is redone.
    if (flight === undefined || !flight.sent) return;
    if (flight.discarded) {
      if (message.type === "done") this.#flights.delete(flight.seq);
      return;
    }
    if (flight.rerun) {
      if (message.type === "done") this.#rerun(flight);
      return;
    }
    if (message.records > message.failures.length) this.#crashStreak = 0;
    if (message.retried) this.#stats.retriedRecords += message.retried;
    flight.advance(message.records);
    this.#release.add(this.#piece(message));
    if (message.type === "done") {
      flight.newlines = message.newlines;
      flight.sent = false;
      if (flight.finishRange()) this.#complete(flight);
      else this.#retry.unshift(flight);
    }
  }

  /** The internal piece of a worker's message: results parsed, offsets in input order. */
  #piece(message: PieceMessage): Piece {
    const results = message.json === undefined ? message.results : JSON.parse(message.json);
    const piece: Piece = {
      seq: message.seq,
      records: message.records,
      results,
      offsets: message.offsets,
      lines: message.lines,
      failures: message.failures,
      encoded: message.encoded,
      bytes: sizeOf(message, results),
    };
    const held = this.#heldBack.get(message.seq);
    if (held === undefined) return piece;
    // Offsets count the rows sent; map them back to the batch's own.
    const place = (offset: number) => held.map[offset];
    piece.failures = message.failures.map((f) => ({ ...f, offset: place(f.offset) }));
    piece.offsets = message.offsets?.map(place);
    return piece;
  }

  /**
   * A task's record count (and, for a range, where it was cut). Returns the
   * error that ends the run when the input changed under it.
   */
  count(message: CountMessage): InputError | undefined {
    const flight = this.#flights.get(message.seq);
    if (flight === undefined || !flight.sent || flight.discarded || flight.rerun) return;
    if (message.changed !== undefined) return new InputError(this.#source.file, message.changed);
    flight.records = message.records;
    flight.lines = message.lines;
    flight.newlines = message.newlines;
    flight.alone = message.record;
    if (message.end !== undefined) flight.byteEnd = message.end;
    if (message.clean === undefined) return;
    for (const action of this.#cuts.report(message)) {
      if (action.kind === "fallBack") this.#fallBack();
      else if (action.kind === "redo") this.#redo(action.seq, action.offset);
      else this.#empty(action.seq);
    }
  }

  /** Range `seq` started at a wrong place: run it again from `offset`, its first record's start. */
  #redo(seq: number, offset: number): void {
    this.#stats.reruns++;
    this.#release.reset(seq);
    const task: Task = {
      kind: "range",
      path: this.#path,
      offset,
      end: this.#cuts.endOf(seq),
      exact: true,
    };
    const flight = this.#flights.get(seq);
    if (flight?.sent) {
      flight.rerun = task; // once its worker is done with the old one
      return;
    }
    if (flight) this.#retry = this.#retry.filter((f) => f !== flight);
    this.#queueRedo(seq, task);
  }

  #queueRedo(seq: number, task: Task): void {
    const fresh = new Flight(seq, task);
    fresh.redo = true;
    this.#flights.set(seq, fresh);
    this.#retry.unshift(fresh);
  }

  /** The worker is done with (or lost) a range that is to be run again. */
  #rerun(flight: Flight): void {
    this.#queueRedo(flight.seq, flight.rerun!);
  }

  /** Range `seq` is done with, classified or found empty: its bytes count as read. */
  #rangeDone(seq: number): void {
    const bytes = this.#rangeBytes.get(seq);
    if (bytes === undefined) return;
    this.#rangeBytes.delete(seq);
    this.#source.finished?.(bytes);
  }

  /** Range `seq` holds no record of its own: drop what it sent. */
  #empty(seq: number): void {
    this.#rangeDone(seq);
    const flight = this.#flights.get(seq);
    if (flight?.sent) {
      flight.discarded = true;
      flight.rerun = undefined;
    } else if (flight) {
      this.#flights.delete(seq);
      this.#retry = this.#retry.filter((f) => f !== flight);
    }
    this.#release.drop(seq);
  }

  /** Every record of a flight is reported. */
  #complete(flight: Flight): void {
    const held = this.#heldBack.get(flight.seq);
    if (held !== undefined && held.failures.length) {
      this.#release.add({
        seq: flight.seq,
        records: held.failures.length,
        results: [],
        failures: held.failures,
      });
    }
    this.#heldBack.delete(flight.seq);
    this.#rangeDone(flight.seq);
    this.#flights.delete(flight.seq);
    const { task } = flight;
    const byteEnd = flight.byteEnd ??
      (task.kind === "chunk" ? task.chunk.offset + task.chunk.end - task.chunk.start : undefined);
    this.#release.complete(flight.seq, flight.newlines ?? 0, byteEnd);
  }

  /**
   * The range at `cuts.verified` was cut wrong (its last LF lies inside a
   * quoted field), so it and every range after it are dropped, with nothing
   * of them released, and the main thread reads the rest of the file from
   * where the verified ranges end.
   */
  #fallBack(): void {
    const { ranges, verified, verifiedEnd } = this.#cuts;
    // From the last down, so that no range's own count is folded in before it is dropped.
    for (let seq = ranges - 1; seq >= verified; seq--) {
      const flight = this.#flights.get(seq);
      if (flight !== undefined) {
        flight.discarded = true;
        if (!flight.sent) this.#flights.delete(seq); // waiting to be retried
      }
      this.#release.drop(seq);
    }
    this.#retry = this.#retry.filter((flight) => !flight.discarded);
    // A read begun before this gives a range: the main thread reads on instead.
    this.#reading = undefined;
    this.#source.fallBack!(verifiedEnd);
    this.#sourceDone = false;
  }

  /**
   * A worker died holding `seqs` (the one it was working on first): re-send
   * them, and bisect the first if it keeps killing workers. Returns the error
   * that ends the run when workers died too often in a row.
   */
  lost(seqs: number[], error: WorkerCrashError): WorkerCrashError | undefined {
    const flights: Flight[] = [];
    for (const seq of seqs) {
      const flight = this.#flights.get(seq);
      if (flight === undefined) continue;
      if (flight.discarded) this.#flights.delete(seq);
      else if (flight.rerun) this.#rerun(flight);
      else flights.push(flight);
    }
    this.#stats.respawns++;
    for (const flight of flights) {
      flight.sent = false;
      flight.retried = true;
    }
    const head = flights[0];
    const verdict = head?.crashed();
    // A death that narrowed down the suspect records is bisection at work, not a streak of
    // unexplained deaths: a poison record at the start of a big chunk costs ~log2(records) deaths.
    if (!(verdict?.kind === "retry" && verdict.narrowed)) this.#crashStreak++;
    const { maxRespawns } = this.#options;
    if (this.#crashStreak > maxRespawns) {
      return new WorkerCrashError(
        error.workerIndex,
        `${
          error.message.replace(/^worker \d+ died: /, "")
        }; workers died ${this.#crashStreak} times ` +
          `in a row without finishing a record, so the run gave up (maxRespawns: ${maxRespawns})`,
        { cause: error },
      );
    }
    if (head && verdict) {
      if (verdict.kind === "poison") {
        this.#stats.isolated++;
        this.#release.add({
          seq: head.seq,
          records: 1,
          results: [],
          failures: [{
            kind: "record",
            offset: this.#heldBack.get(head.seq)?.map[verdict.offset] ?? verdict.offset,
            line: head.lines?.[verdict.offset] ?? 0,
            record: head.alone,
            error: {
              name: "WorkerCrashError",
              message: `the worker died while classifying this record (${error.message})`,
            },
          }],
        });
        if (head.skipPoison()) {
          flights.shift();
          this.#complete(head);
        }
      }
    }
    this.#retry.unshift(...flights);
    return undefined;
  }
}

/** About how many bytes a piece's results take: their text where it is at hand. */
function sizeOf(message: PieceMessage, results: unknown[]): number {
  if (message.json !== undefined) return message.json.length;
  const { encoded } = message;
  if (encoded?.bytes) return encoded.bytes.byteLength;
  if (encoded?.texts) return encoded.texts.reduce((n, t) => n + t.length, 0);
  let n = 0;
  for (const r of results) if (typeof r === "string") n += r.length;
  return n;
}
