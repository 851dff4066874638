/**
 * Worker-read byte ranges: the main thread reads a file's header only, then
 * hands out ranges `[offset, end)` of about `chunkBytes` that each worker
 * reads and cuts itself (`workers/kinds/range.ts`), so the file is read by
 * every worker at once and its bytes never pass through the main thread.
 *
 * Everything about ranges lives here: the cuts each worker reports are
 * verified in order ({@linkcode Cuts}); a range that started at a wrong
 * place (an LF inside a quoted field) is run again from its first record's
 * true start; a range that holds no record of its own is dropped; and a
 * record too long to read on over sends the rest of the file to the main
 * thread, read from the last verified boundary by a {@linkcode ChunkSource}.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import type { Fingerprint } from "../wire/fingerprint.ts";
import type { RangeBody, TaskCount } from "../wire/task.ts";
import { type ChunkSettings, ChunkSource } from "./chunks.ts";
import { Cuts } from "./cuts.ts";
import type { InputTask, TaskSource, Verdict } from "./task.ts";

/** Ranges of one regular file. */
export class RangeSource implements TaskSource {
  readonly #settings: ChunkSettings & { path: string; size: number };
  readonly #cuts = new Cuts();
  /** Where the next range starts. */
  #at: number;
  /** Where the records start (after the header, or where a resumed run goes on). */
  readonly #dataStart: number;
  /** The bytes of the header and of every finished range. */
  #finishedBytes: number;
  /** The bytes of each range as first handed out, until it is finished. */
  readonly #rangeBytes = new Map<number, number>();
  /** Where each range's last record ends, as its worker cut it. */
  readonly #ends = new Map<number, number>();
  /** The main thread's chunks, once a cut could not be verified. */
  #fallback: ChunkSource | undefined;

  /**
   * Ranges of the file at `settings.path` (absolute), whose records start
   * at byte `start`.
   */
  constructor(settings: ChunkSettings & { path: string; size: number }, start: number) {
    this.#settings = settings;
    this.#at = this.#dataStart = this.#finishedBytes = start;
  }

  get file(): string | undefined {
    return this.#settings.file;
  }

  get reader(): "workers" | "main" {
    return this.#fallback ? "main" : "workers";
  }

  get bytesTotal(): number {
    return this.#settings.size;
  }

  get bytesRead(): number {
    return this.#fallback?.bytesRead ?? this.#finishedBytes;
  }

  get #fingerprint(): Fingerprint | undefined {
    return this.#settings.fingerprint;
  }

  next(): Promise<InputTask | null> {
    if (this.#fallback) return this.#fallback.next();
    const { size, chunkBytes } = this.#settings;
    const offset = this.#at;
    if (offset >= size) return Promise.resolve(null);
    const end = Math.min(size, offset + chunkBytes);
    this.#at = end;
    const exact = offset === this.#dataStart;
    return Promise.resolve({ body: this.#body(offset, end, exact), transfer: [] });
  }

  taken(id: number, task: InputTask): void {
    if (task.body.kind !== "range") return;
    const { offset, end, exact } = task.body;
    this.#cuts.added(id, offset, end, exact);
    this.#rangeBytes.set(id, end - offset);
  }

  #body(offset: number, end: number, exact: boolean): RangeBody {
    const { path, maxRecordBytes } = this.#settings;
    return {
      kind: "range",
      path,
      offset,
      end,
      exact,
      maxRecordBytes,
      fingerprint: this.#fingerprint,
      version: this.#settings.version,
    };
  }

  again(task: InputTask): Promise<InputTask> {
    // A range is read again by its worker; a chunk after the fall-back is the main thread's.
    if (task.body.kind === "range") return Promise.resolve(task);
    return this.#fallback!.again(task);
  }

  unsendable(_task: InputTask, error: unknown): InputTask {
    throw error;
  }

  counted(id: number, count: TaskCount): Verdict[] {
    const cut = count.cut;
    if (cut === undefined || this.#fallback) return [];
    const failed = cut.changed ?? cut.error;
    if (failed !== undefined) return [{ kind: "fail", error: new InputError(this.file, failed) }];
    if (cut.end !== undefined) this.#ends.set(id, cut.end);
    const verdicts: Verdict[] = [];
    for (const action of this.#cuts.report(id, cut)) {
      if (action.kind === "redo") {
        const body = this.#body(action.offset, this.#cuts.endOf(action.seq), true);
        verdicts.push({ kind: "rerun", id: action.seq, body });
      } else if (action.kind === "empty") {
        this.#finished(action.seq);
        this.#ends.delete(action.seq);
        verdicts.push({ kind: "drop", id: action.seq });
      } else verdicts.push(...this.#fallBack());
    }
    return verdicts;
  }

  /**
   * The range at `cuts.verified` was cut wrong (its last LF lies inside a
   * quoted field and no record end was found within reach), so it and every
   * range after it are dropped, and the main thread reads the rest of the
   * file from where the verified ranges end.
   */
  #fallBack(): Verdict[] {
    const { ranges, verified, verifiedEnd } = this.#cuts;
    const verdicts: Verdict[] = [];
    // From the last down, so that no range's own count is folded in before it is dropped.
    for (let seq = ranges - 1; seq >= verified; seq--) verdicts.push({ kind: "drop", id: seq });
    this.#fallback = new ChunkSource(this.#settings, undefined, verifiedEnd);
    verdicts.push({ kind: "more" });
    return verdicts;
  }

  held(id: number): boolean {
    return this.#cuts.held(id);
  }

  completed(id: number, task: InputTask): number | undefined {
    if (task.body.kind !== "range") return this.#fallback!.completed(id, task);
    this.#finished(id);
    const end = this.#ends.get(id);
    this.#ends.delete(id);
    return end;
  }

  /** Range `id` is done with, classified or found empty: its bytes count as read. */
  #finished(id: number): void {
    const bytes = this.#rangeBytes.get(id);
    if (bytes === undefined) return;
    this.#rangeBytes.delete(id);
    this.#finishedBytes += bytes;
  }

  close(): void {
    this.#fallback?.close();
    this.#settings.spare?.close();
  }
}
