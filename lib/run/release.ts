/**
 * Ordering and release: the pieces of results of finished (or finishing)
 * tasks wait here until they can go to the consumer: at once when unordered,
 * in sequence when ordered, and once their first record's index is known
 * when they carry errors or tagged results (the {@linkcode Ledger} knows it
 * once every earlier task has reported its record count).
 *
 * @module
 */

import { CrunchError, ParseError, RecordError } from "../errors.ts";
import type { OnError, ResolvedRunOptions, Tagged } from "../options.ts";
import type { Encoded, Failure, InvalidText, WrittenPart } from "../wire/task.ts";
import type { DocumentState, OutputDocument } from "./document.ts";
import type { Base, Ledger } from "./ledger.ts";
import type { SourceHead } from "../input/task.ts";
import type { Outbox } from "./outbox.ts";
import type { Stats } from "./stats.ts";

/** Results of consecutive records of one task, with offsets in the task's input order. */
export interface Piece {
  seq: number;
  /** Records this piece covers (results, filtered records and failures). */
  records: number;
  results: unknown[];
  /** For tagged runs: each result's record offset within its task. */
  offsets?: number[];
  /** For tagged runs on bytes: each result's 1-based line within its chunk. */
  lines?: number[];
  failures: Failure[];
  /** For runs with `encode`: the results serialized in the worker. */
  encoded?: Encoded;
  /** About how many bytes the results take (their text, where it is known). */
  bytes?: number;
  /** The task's last piece: bytes of its text its decoder could not read. */
  invalid?: InvalidText;
  /** The task's last piece, in a run that writes parts: its part, to commit. */
  part?: WrittenPart;
}

/** What release needs to know of the run. */
export interface ReleaseOptions {
  ordered: boolean;
  tagged: boolean;
  onError: OnError;
  /** The input file, for errors. */
  file?: string;
  /** The text encoding the workers decode with (for the warning about bytes they could not). */
  encoding?: string;
  /**
   * Ordered runs that can be resumed: where the next record starts, marked
   * in the outbox after each task released whole.
   */
  checkpoints?: Checkpoint;
  /** Called at each checkpoint; what it returns goes into the checkpoint as `extra`. */
  onMark?: () => unknown;
}

/** A resumable point of an ordered run: where the records not yet released start. */
export interface Checkpoint {
  /** 0-based index of the next record. */
  index: number;
  /** 1-based line where it starts. */
  line: number;
  /** Byte offset in the input where it starts. */
  byte: number;
  /** The output document's state there (encode). */
  document?: DocumentState;
  /** Records, results and errors released up to there. */
  records?: number;
  results?: number;
  errors?: number;
  /** What the run's `onMark` said there (the command: its errors file's length). */
  extra?: unknown;
}

interface Pending {
  pieces: Piece[];
  records: number;
  /** Every record of the task is reported. */
  final: boolean;
  newlines?: number;
  /** Where the byte after the task's last record is, when known. */
  byteEnd?: number;
  /** The input stops at this task: the error the run ends with, made from its base. */
  stop?: (base: Base) => unknown;
}

/** Pieces waiting for release, by task sequence number. */
export class Release {
  readonly #options: ReleaseOptions;
  readonly #ledger: Ledger;
  readonly #outbox: Outbox;
  readonly #stats: Stats;
  readonly #document: OutputDocument | undefined;
  /** True while a task's results must wait (a range whose cut is not verified yet). */
  readonly #held: (seq: number) => boolean;
  #pending = new Map<number, Pending>();
  #nextOrdered = 0;
  /** Tasks opened and not yet released whole. */
  #open = 0;
  /** About how many bytes of results wait here. */
  #bytes = 0;

  constructor(
    options: ReleaseOptions,
    ledger: Ledger,
    outbox: Outbox,
    stats: Stats,
    document: OutputDocument | undefined,
    held: (seq: number) => boolean,
  ) {
    this.#options = options;
    this.#ledger = ledger;
    this.#outbox = outbox;
    this.#stats = stats;
    this.#document = document;
    this.#held = held;
  }

  /** About how many bytes of results wait for release. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Tasks dispatched whose results are not all released yet. */
  get open(): number {
    return this.#open;
  }

  /** A task was dispatched: its results will come here. */
  opened(): void {
    this.#open++;
  }

  /**
   * The input stops at task `seq` (a new task number): the run ends with the
   * error `at` makes from where it starts, after every record before it.
   */
  stop(seq: number, at: (base: Base) => unknown): void {
    this.#open++;
    this.#pending.set(seq, { pieces: [], records: 0, final: true, newlines: 0, stop: at });
    this.#ledger.report(seq, 0, 0);
  }

  /** Adds a piece of results to its task. */
  add(piece: Piece): void {
    let pending = this.#pending.get(piece.seq);
    if (pending === undefined) {
      pending = { pieces: [], records: 0, final: false };
      this.#pending.set(piece.seq, pending);
    }
    pending.pieces.push(piece);
    pending.records += piece.records;
    this.#bytes += piece.bytes ?? 0;
  }

  /** Every record of task `seq` is reported: it can be numbered and released. */
  complete(seq: number, newlines: number, byteEnd?: number): void {
    const pending = this.#pending.get(seq) ?? { pieces: [], records: 0, final: false };
    this.#pending.set(seq, pending);
    pending.final = true;
    pending.newlines = newlines;
    pending.byteEnd = byteEnd;
    this.#ledger.report(seq, pending.records, newlines);
  }

  /** Task `seq` is being run again: what it sent, and the size it reported, are dropped. */
  reset(seq: number): void {
    this.#forgetBytes(seq);
    this.#pending.set(seq, { pieces: [], records: 0, final: false });
    this.#ledger.retract(seq);
  }

  /** Task `seq` holds no records after all (a range cut wrong): what it sent is dropped. */
  drop(seq: number): void {
    this.#forgetBytes(seq);
    this.#pending.set(seq, { pieces: [], records: 0, final: true });
    this.#ledger.report(seq, 0, 0);
  }

  #forgetBytes(seq: number): void {
    for (const piece of this.#pending.get(seq)?.pieces ?? []) this.#bytes -= piece.bytes ?? 0;
  }

  /** Releases what can go; returns the error that ends the run, if one does. */
  flush(): unknown {
    if (this.#options.ordered) {
      for (;;) {
        const pending = this.#pending.get(this.#nextOrdered);
        if (pending === undefined) return undefined;
        const [done, error] = this.#flushOne(this.#nextOrdered, pending);
        if (error !== undefined) return error;
        if (!done) return undefined;
        this.#retire(this.#nextOrdered++);
        this.#mark(pending);
      }
    }
    const seqs = [...this.#pending.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      const pending = this.#pending.get(seq)!;
      const [done, error] = this.#flushOne(seq, pending);
      if (error !== undefined) return error;
      if (done) this.#retire(seq);
    }
    return undefined;
  }

  /** Releases a task's pieces in order while their positions are known: [all released, error]. */
  #flushOne(seq: number, pending: Pending): [boolean, unknown] {
    if (this.#held(seq)) return [false, undefined];
    if (pending.stop) {
      const base = this.#ledger.start(seq);
      return base === undefined ? [false, undefined] : [false, pending.stop(base)];
    }
    while (pending.pieces.length) {
      const piece = pending.pieces[0];
      const base = this.#ledger.start(seq);
      const needsBase = this.#options.tagged || piece.failures.length > 0 || !!piece.invalid;
      if (needsBase && base === undefined) return [false, undefined];
      pending.pieces.shift();
      this.#bytes -= piece.bytes ?? 0;
      const error = this.#release(piece, base ?? { index: 0, line: 0 });
      if (error !== undefined) return [false, error];
    }
    return [pending.final, undefined];
  }

  /** After an ordered task released whole: the point to resume from, for the consumer to pass. */
  #mark(pending: Pending): void {
    const next = this.#options.checkpoints;
    if (next === undefined) return;
    next.index += pending.records;
    next.line += pending.newlines ?? 0;
    if (pending.byteEnd !== undefined) next.byte = pending.byteEnd;
    const { records, results, errors } = this.#stats;
    this.#outbox.mark({
      ...next,
      document: this.#document?.state(),
      records,
      results,
      errors,
      extra: this.#options.onMark?.(),
    });
  }

  #retire(seq: number): void {
    this.#pending.delete(seq);
    this.#ledger.forget(seq);
    this.#open--;
  }

  /** Hands a piece's results and errors on; returns the error that ends the run, if any. */
  #release(piece: Piece, base: Base): unknown {
    const stats = this.#stats;
    if (piece.part) {
      this.#outbox.push([piece.part], 0);
      stats.results += piece.part.results;
    } else if (piece.encoded) {
      const bytes = this.#document!.write(piece as Piece & { encoded: Encoded }, base);
      if (bytes instanceof CrunchError) return bytes;
      this.#outbox.push(bytes, piece.bytes);
      stats.results += piece.encoded.count;
    } else {
      const results = this.#options.tagged ? tag(piece, base) : piece.results;
      this.#outbox.push(results, piece.bytes);
      stats.results += results.length;
    }
    stats.records += piece.records;
    stats.errors += piece.failures.length;
    if (piece.invalid) {
      const { count, line } = piece.invalid;
      stats.invalidText(
        count,
        base.line + line - 1,
        this.#options.file,
        this.#options.encoding ?? "utf-8",
      );
    }
    const { onError } = this.#options;
    for (const failure of piece.failures) {
      const error = this.#errorOf(failure, base);
      if (onError === "fail" || failure.fatal) return error;
      if (onError !== "skip") {
        try {
          onError(error);
        } catch (thrown) {
          return thrown;
        }
      }
    }
    return undefined;
  }

  #errorOf(failure: Failure, base: Base): RecordError | ParseError {
    const index = base.index + failure.offset;
    const file = this.#options.file;
    const line = failure.line > 0 ? base.line + failure.line - 1 : undefined;
    if (failure.kind === "parse") {
      const { byte, text } = failure;
      return new ParseError(failure.error.message, { file, line: line ?? 0, index, byte, text });
    }
    return new RecordError({ index, line, file }, failure.record, failure.error);
  }
}

function tag(piece: Piece, base: Base): Tagged[] {
  const { results, offsets = [], lines } = piece;
  const tagged: Tagged[] = new Array(results.length);
  for (let k = 0; k < results.length; k++) {
    tagged[k] = lines
      ? { index: base.index + offsets[k], line: base.line + lines[k] - 1, result: results[k] }
      : { index: base.index + offsets[k], result: results[k] };
  }
  return tagged;
}

/** How a run over an input with `head` releases its results, as `options` say. */
export function releaseOptionsOf(
  options: ResolvedRunOptions,
  head: SourceHead,
  file: string | undefined,
): ReleaseOptions {
  return {
    ordered: options.ordered,
    tagged: options.tagged,
    onError: options.onError,
    file,
    encoding: head.encoding,
    checkpoints: options.checkpoints
      ? {
        index: options.startAt?.index ?? 0,
        line: head.firstLine,
        byte: options.startAt?.byte ?? -1,
      }
      : undefined,
    onMark: options.onMark,
  };
}
