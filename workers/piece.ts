/**
 * The results and failures of consecutive records of a task, and how they
 * go to the main side: as JSON text where that is exact and cheaper, as
 * bytes already encoded for the command, or by structured clone, with
 * results that cannot be sent turned into failures of their records.
 *
 * @module
 */

import type { Encoded, Failure, InvalidText, ResultsPiece, WrittenPart } from "../lib/wire/task.ts";
import type { PartFile } from "./part_file.ts";
import { serializeError } from "../lib/wire/task.ts";
import { columnsOf, encodeResult } from "../lib/formats/encode.ts";
import { resultsAsJson } from "../lib/formats/json_safe.ts";
import type { CurrentRun } from "./current_run.ts";
import type { WorkerTransport } from "./transport.ts";
import type { StageClock } from "./stage_clock.ts";

const encoder = new TextEncoder();

/** The results and failures of a run of records within a chunk, sent as one message. */
export class PieceBuilder {
  results: unknown[] = [];
  /** Characters in the string results so far. */
  chars = 0;
  /** Record offset of each result; undefined while result `k` is record `from + k`. */
  #offsets: number[] | undefined;
  failures: Failure[] = [];
  /** Attempts made again after transient failures. */
  retried = 0;
  /** The task's part, once written (its last piece names it). */
  part: WrittenPart | undefined;

  /** `from` is the offset of the piece's first record. */
  /** Records from `from` on; `clock` times encoding and sending, and stamps the last piece. */
  constructor(readonly from: number, readonly clock?: StageClock) {}

  /** Record offset of each result. */
  get offsets(): number[] {
    return this.#offsets ??= this.results.map((_, k) => this.from + k);
  }

  /** Adds the result of the record at `offset`. */
  add(result: unknown, offset: number): void {
    if (this.#offsets === undefined && offset === this.from + this.results.length) {
      this.results.push(result); // dense so far: no offset to keep
      return;
    }
    this.offsets.push(offset);
    this.results.push(result);
  }

  /** Turns result `k` into a failure of its record; call `#compact` after. */
  #reject(k: number, rows: unknown[], lines: number[] | undefined, name: string, message: string) {
    const offset = this.offsets[k];
    this.failures.push({
      kind: "record",
      offset,
      line: lines?.[offset] ?? 0,
      record: rows[offset],
      error: { name, message },
    });
    this.offsets[k] = -1;
  }

  /** Drops rejected results and puts failures back in record order. */
  #compact(): void {
    const keep = this.offsets.flatMap((offset, k) => offset === -1 ? [] : [k]);
    this.results = keep.map((k) => this.results[k]);
    this.#offsets = keep.map((k) => this.offsets[k]);
    this.failures.sort((a, b) => a.offset - b.offset);
  }

  /** Serializes the results for an `encode` run; results that cannot be become failures. */
  #encode(run: CurrentRun, rows: unknown[], lines: number[] | undefined): Encoded {
    const current = run.settings;
    const format = current.encode!;
    if (format === "csv" && current.outputColumns === undefined && this.results.length) {
      current.outputColumns = columnsOf(this.results[0]);
    }
    const columns = current.outputColumns ?? [];
    const texts: string[] = [];
    const results = this.results;
    let rejected = false;
    // Tagged CSV puts index and line columns first: a result's own would make a duplicate header.
    const clash = format === "csv" && current.tagged
      ? columns.find((c) => c === "index" || c === "line")
      : undefined;
    for (let k = 0; k < results.length; k++) {
      try {
        if (clash) {
          throw new TypeError(
            `result has its own key "${clash}", a column that tagged CSV adds: rename it`,
          );
        }
        texts.push(encodeResult(format, results[k], columns));
      } catch (error) {
        const { name, message } = serializeError(error);
        const offset = this.offsets[k];
        this.#reject(k, rows, lines, name, `the result cannot be written as ${format}: ${message}`);
        rejected = true;
        if (current.stopOnError) {
          // The run ends at this record, as for a classify error: nothing after it goes out.
          this.results.length = this.offsets.length = k + 1;
          this.failures = this.failures.filter((f) => f.offset <= offset);
          break;
        }
      }
    }
    if (rejected) this.#compact();
    // Tagged results need each one's offset after the results themselves are gone.
    else if (current.tagged) this.#offsets = this.offsets;
    const encoded: Encoded = { count: texts.length };
    if (format === "csv") encoded.columns = columns;
    if (current.tagged) encoded.texts = texts;
    else if (texts.length) {
      encoded.bytes = encoder.encode(
        format === "json" ? texts.join(",\n") : texts.join("\n") + "\n",
      );
    }
    this.results = [];
    return encoded;
  }

  /**
   * Moves the results so far into the task's `part` (serialized first, for
   * the text formats; a result that cannot be becomes a failure), leaving
   * the failures to be sent.
   */
  spill(run: CurrentRun, rows: unknown[], lines: number[] | undefined, part: PartFile): void {
    const started = performance.now();
    if (run.settings.encode) part.add(this.#encode(run, rows, lines), [], []);
    else part.add(undefined, this.results, this.offsets);
    this.results = [];
    this.#offsets = undefined;
    if (this.clock) this.clock.encode += performance.now() - started;
  }

  /**
   * Sends the records `[from, to)` of task `id` through `transport`: a
   * piece, the task's last when `newlines` is given. Results that cannot be
   * cloned become failures of their records.
   */
  send(
    transport: WorkerTransport,
    run: CurrentRun,
    id: number,
    to: number,
    rows: unknown[],
    lines: number[] | undefined,
    newlines: number | undefined,
    invalid?: InvalidText,
    waiting = false,
  ): void {
    const settings = run.settings;
    const piece: ResultsPiece = {
      id,
      last: newlines !== undefined,
      results: [],
      failures: [],
      records: to - this.from,
    };
    if (newlines !== undefined) piece.newlines = newlines;
    else if (lines !== undefined && to < lines.length) piece.nextLine = lines[to];
    if (waiting) piece.waiting = true;
    if (invalid !== undefined) piece.invalid = invalid;
    if (this.retried) piece.retried = this.retried;
    if (newlines !== undefined && settings.reportHeap) piece.heapUsed = Deno.memoryUsage().heapUsed;
    const transfer: Transferable[] = [];
    const clock = this.clock;
    if (settings.encode) {
      const started = performance.now();
      piece.encoded = this.#encode(run, rows, lines);
      if (piece.encoded.bytes) transfer.push(piece.encoded.bytes.buffer as ArrayBuffer);
      if (clock) clock.encode += performance.now() - started;
    }
    if (this.part) piece.part = this.part;
    if (clock && piece.last) piece.stages = clock.times(lines);
    const fill = () => {
      const json = resultsAsJson(this.results);
      piece.results = json === undefined ? this.results : [];
      piece.json = json;
      piece.failures = this.failures;
      if (settings.tagged) {
        piece.offsets = this.offsets;
        if (lines) piece.lines = this.offsets.map((offset) => lines[offset]);
      }
    };
    fill();
    const message = { type: "piece" as const, run: run.id, piece };
    try {
      const started = performance.now();
      transport.send(message, transfer);
      if (clock) clock.send += performance.now() - started;
      return;
    } catch (error) {
      if (!(error instanceof DOMException && error.name === "DataCloneError")) throw error;
    }
    this.results.forEach((result, k) => {
      try {
        structuredClone(result);
      } catch (error) {
        const reason = (error as Error).message;
        this.#reject(
          k,
          rows,
          lines,
          "DataCloneError",
          `classify returned a value that cannot be sent back: ${reason}`,
        );
      }
    });
    this.#compact();
    fill();
    transport.send(message);
  }
}
