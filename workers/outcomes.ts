/**
 * Where a task's outcomes go while its records are classified: each
 * result, failure or malformed record into the current piece, and pieces
 * sent now and then (every 50 ms for slow classifiers, at once past 8 M
 * characters of results), so the main side sees progress and memory stays
 * bounded.
 *
 * @module
 */

import { RAW_TEXT_CHARS, serializeError } from "../lib/wire/task.ts";
import type { ClassifySink } from "./classify.ts";
import type { CurrentRun } from "./current_run.ts";
import type { TaskRows } from "./kinds/mod.ts";
import type { Pacer } from "./pacer.ts";
import { PieceBuilder } from "./piece.ts";
import { PartFile } from "./part_file.ts";
import type { StageClock } from "./stage_clock.ts";
import type { WorkerTransport } from "./transport.ts";

/** Characters of string results above which a piece is sent at once. */
const PIECE_CHARS = 8 << 20;

/** Longest time a task's results wait in a worker before a piece carries them. */
const FLUSH_EVERY_MS = 50;

const encoder = new TextEncoder();

/** The outcomes of one task's records, sent in pieces. */
export class TaskOutcomes implements ClassifySink {
  readonly #transport: WorkerTransport;
  readonly #run: CurrentRun;
  readonly #id: number;
  readonly #rows: TaskRows;
  readonly #pacer: Pacer;
  readonly #live: () => boolean;
  readonly #clock: StageClock;
  #piece: PieceBuilder;
  #lastFlush = performance.now();
  /** Where the last malformed record's bytes were counted to: records come in order. */
  #countedTo = 0;
  /** The input byte offset of `#countedTo`. */
  #byte: number | undefined;
  /** The record the worker waits for (every one before it is handed over), if it waits. */
  #awaiting = 0;
  /** Sends what is handed over when the record waited for takes long. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #finished = false;
  /** The task's part, in a run that writes parts. */
  readonly #part: PartFile | undefined;

  /**
   * Outcomes of task `id`'s `rows` from record `from` on; `live` is false
   * once its run is gone; `clock` times the task.
   */
  constructor(
    transport: WorkerTransport,
    run: CurrentRun,
    id: number,
    rows: TaskRows,
    from: number,
    pacer: Pacer,
    live: () => boolean,
    clock: StageClock,
  ) {
    this.#transport = transport;
    this.#run = run;
    this.#id = id;
    this.#rows = rows;
    this.#pacer = pacer;
    this.#live = live;
    this.#clock = clock;
    this.#piece = new PieceBuilder(from, clock);
    this.#byte = rows.byte;
    const parts = run.settings.parts;
    if (parts) this.#part = new PartFile(parts, id, () => run.remote);
  }

  result(offset: number, value: unknown): void {
    const piece = this.#piece;
    piece.add(value, offset);
    // Big results go out as they come: no piece holds more than PIECE_CHARS of text.
    if (typeof value === "string" && (piece.chars += value.length) > PIECE_CHARS) {
      this.#flush(offset + 1);
    }
  }

  failure(offset: number, error: unknown): void {
    this.#piece.failures.push({
      kind: "record",
      offset,
      line: this.#rows.lines?.[offset] ?? 0,
      record: this.#rows.rows[offset],
      error: serializeError(error),
    });
  }

  bad(offset: number): void {
    const bad = this.#rows.bad!.get(offset)!;
    if (!("from" in bad)) {
      // A row the transport could not carry.
      this.#piece.failures.push({
        kind: "record",
        offset,
        line: 0,
        record: bad.record,
        error: { name: "DataCloneError", message: bad.reason },
      });
      return;
    }
    const { text } = this.#rows;
    const raw = text.slice(bad.from, Math.min(bad.to, bad.from + RAW_TEXT_CHARS));
    let byte: number | undefined;
    if (this.#byte !== undefined) {
      this.#byte += encoder.encode(text.slice(this.#countedTo, bad.from)).length;
      this.#countedTo = bad.from;
      byte = this.#byte;
    }
    this.#piece.failures.push({
      kind: "parse",
      offset,
      line: bad.line,
      text: raw.replace(/\r?\n$/, ""),
      byte,
      error: { name: "ParseError", message: bad.reason },
    });
  }

  retried(): void {
    this.#piece.retried++;
  }

  awaiting(offset: number): void {
    this.#awaiting = offset;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      // Results finished before a record that hangs (a promise that never settles) go out on
      // time, not when that record ends, if ever.
      const to = this.#awaiting;
      if (!this.#finished && this.#live() && to > this.#piece.from) this.#flush(to, true);
    }, FLUSH_EVERY_MS);
  }

  async tick(next: number): Promise<boolean> {
    const now = performance.now();
    this.#clock.tick(next, now);
    // Slow classifiers: hand results over as they come, not only when the task ends.
    if (now - this.#lastFlush > FLUSH_EVERY_MS) this.#flush(next);
    // Yield now and then inside long tasks too, so cancel and terminate() act promptly.
    if (this.#pacer.due(now)) await this.#pacer.yield();
    return this.#live();
  }

  /**
   * Sends records up to `to` as a piece, and starts the next one there;
   * `waiting` when the worker waits for record `to`'s classify.
   */
  #flush(to: number, waiting = false): void {
    const { rows, lines } = this.#rows;
    if (this.#part) {
      // A part is the task's whole outcome: nothing of it is released before it is written (a
      // task run again, or raced, starts from its first record). The results wait in the part.
      this.#piece.spill(this.#run, rows, lines, this.#part);
      this.#lastFlush = performance.now();
      return;
    }
    this.#piece.send(
      this.#transport,
      this.#run,
      this.#id,
      to,
      rows,
      lines,
      undefined,
      undefined,
      waiting,
    );
    this.#piece = new PieceBuilder(to, this.#clock);
    this.#lastFlush = performance.now();
  }

  /** Sends the task's last piece: records up to `to` (in a run that writes parts, its part first). */
  async finish(to: number): Promise<void> {
    this.#finished = true;
    this.#clock.classified();
    clearTimeout(this.#timer);
    const { rows, lines, newlines, invalid } = this.#rows;
    const piece = this.#piece;
    if (this.#part) await this.#writePart(piece);
    piece.send(this.#transport, this.#run, this.#id, to, rows, lines, newlines, invalid);
  }

  /** Writes the task's part: a result it cannot hold, or a part that cannot be written, fails. */
  async #writePart(piece: PieceBuilder): Promise<void> {
    const { rows, lines } = this.#rows;
    piece.spill(this.#run, rows, lines, this.#part!);
    const started = performance.now();
    try {
      const { part, misfits } = await this.#part!.write();
      piece.part = part;
      for (const { offset, reason } of misfits) {
        piece.failures.push({
          kind: "record",
          offset,
          line: lines?.[offset] ?? 0,
          record: rows[offset],
          error: {
            name: "TypeError",
            message: `its result does not fit the Parquet part: ${reason}`,
          },
        });
      }
      piece.failures.sort((a, b) => a.offset - b.offset);
    } catch (error) {
      // A folder that cannot be written ends the run: no record of the task is kept.
      piece.failures.push({
        kind: "record",
        offset: piece.from,
        line: lines?.[piece.from] ?? 0,
        record: rows[piece.from],
        error: serializeError(
          new Error(`cannot write the task's part: ${(error as Error).message}`),
        ),
        fatal: true,
      });
    }
    this.#clock.encode += performance.now() - started;
  }
}
