/**
 * Tasks of whole records cut on the main thread: a byte input (a file, a
 * stream, a decompressed file) read by a {@linkcode ChunkReader} and handed
 * out chunk by chunk, each in a buffer of its own that is transferred to its
 * worker. A chunk to run again is re-read from its file, or copied from what
 * was kept of it when the input cannot be read twice (a stream, a pipe).
 *
 * @module
 */

import { InputError, ParseError } from "../errors.ts";
import type { Format } from "../formats/format.ts";
import type { ChunkBody, TaskCount } from "../wire/task.ts";
import type { Fingerprint } from "../wire/fingerprint.ts";
import type { ObjectVersion } from "../wire/object_version.ts";
import { type FileSource, type Positional, PositionalSource } from "./byte_source.ts";
import { ChunkReader, RecordTooLong } from "./chunk_reader.ts";
import type { DecodedSource } from "./decoded_source.ts";
import { InputStop, type InputTask, type TaskSource, type Verdict } from "./task.ts";

/** How a chunk source reads, and what it knows of its input. */
export interface ChunkSettings {
  format: Format;
  chunkBytes: number;
  maxRecordBytes: number;
  delimiter?: string;
  /** The input's name, for errors. */
  file: string | undefined;
  /**
   * The path (or URL) to read a chunk again from; undefined when the input
   * cannot be read twice.
   */
  path: string | undefined;
  /** Input size in bytes, when known. */
  size: number | undefined;
  /** A regular file's size and first bytes at open, to notice it changing under the run. */
  fingerprint?: Fingerprint;
  /**
   * A spare handle on a regular file, opened with the run: what is read
   * again (a chunk to re-run, the rest after a fall-back) is read from it.
   */
  spare?: Positional;
  /** An object behind a URL: the version the run reads. */
  version?: ObjectVersion;
  /** Its length as the server said, when it is read as a stream (for progress). */
  length?: number;
}

/** Chunks of a byte input, cut on the main thread. */
export class ChunkSource implements TaskSource {
  readonly #settings: ChunkSettings;
  /** The open reader; undefined until the first read when reading starts at an offset. */
  #reader: ChunkReader | undefined;
  /** The file offset the reader starts at. */
  readonly #base: number;
  /** A compressed input: progress counts its compressed bytes. */
  readonly #decoded: DecodedSource | undefined;
  /** The file the reader reads, when it reads one (to notice it changing). */
  #fileSource: FileSource | undefined;
  /** Copies of the chunks of an input that cannot be read twice, by body. */
  readonly #copies = new WeakMap<ChunkBody, Uint8Array>();
  #closed = false;
  readonly reader = "main";

  /**
   * Chunks from `reader`, already past the input's head; or, without one,
   * from the file at `settings.path` read from byte `base` (a record start).
   */
  constructor(
    settings: ChunkSettings,
    reader: ChunkReader | undefined,
    base = 0,
    decoded?: DecodedSource,
    fileSource?: FileSource,
  ) {
    this.#settings = settings;
    this.#reader = reader;
    this.#base = base;
    this.#decoded = decoded;
    this.#fileSource = fileSource;
  }

  get file(): string | undefined {
    return this.#settings.file;
  }

  get bytesTotal(): number | undefined {
    return this.#settings.size ?? this.#decoded?.compressedSize ?? this.#settings.length;
  }

  get bytesRead(): number {
    if (this.#decoded) return this.#decoded.compressedRead;
    return this.#base + (this.#reader?.bytesRead ?? 0);
  }

  async next(): Promise<InputTask | null> {
    if (this.#closed) return null;
    this.#reader ??= this.#openAtBase();
    let chunk;
    try {
      chunk = await this.#reader.next();
    } catch (error) {
      if (!(error instanceof RecordTooLong)) throw error;
      const file = this.file;
      throw new InputStop((base) => new ParseError(error.message, { file, ...base }));
    }
    // Every chunk of a regular file, and its end: still the file the run opened, or only grown?
    // (A file that shrank under the run would end in half a record.) An fstat and a read of
    // the first 4 KiB a chunk.
    const { fingerprint } = this.#settings;
    const change = fingerprint && this.#fileSource?.changeSince(fingerprint);
    if (change) throw new InputError(this.file, change);
    if (chunk === null) return null;
    const body: ChunkBody = { kind: "chunk", ...chunk };
    if (this.#settings.path === undefined) {
      this.#copies.set(
        body,
        new Uint8Array(chunk.buffer, chunk.start, chunk.end - chunk.start).slice(),
      );
    }
    return { body, transfer: [chunk.buffer] };
  }

  #openAtBase(): ChunkReader {
    const { size, format, chunkBytes, maxRecordBytes, delimiter } = this.#settings;
    const spare = this.#spare();
    return new ChunkReader(
      new PositionalSource(spare, this.#base, size),
      format,
      chunkBytes,
      maxRecordBytes,
      this.#base,
      delimiter,
    );
  }

  taken(_id: number, _task: InputTask): void {}

  /** The spare handle, checked to be the file the run opened (it may have changed in place). */
  #spare(): Positional {
    const { spare, fingerprint } = this.#settings;
    const change = fingerprint && spare!.changeSince(fingerprint);
    if (change) throw new InputError(this.file, change);
    return spare!;
  }

  async again(task: InputTask): Promise<InputTask> {
    const chunk = task.body as ChunkBody;
    const length = chunk.end - chunk.start;
    const copy = this.#copies.get(chunk);
    let bytes: Uint8Array;
    if (copy) bytes = copy.slice();
    else {
      bytes = new Uint8Array(length);
      const got = await this.#spare().fill(chunk.offset!, bytes);
      if (got < length) throw new InputError(this.file, "it shrank while it was being read");
    }
    const buffer = bytes.buffer as ArrayBuffer;
    const body: ChunkBody = { ...chunk, buffer, start: 0, end: length };
    if (copy) this.#copies.set(body, copy);
    return { body, transfer: [buffer] };
  }

  unsendable(_task: InputTask, error: unknown): InputTask {
    throw error;
  }

  counted(_id: number, _count: TaskCount): Verdict[] {
    return [];
  }

  held(_id: number): boolean {
    return false;
  }

  completed(_id: number, task: InputTask): number | undefined {
    const chunk = task.body as ChunkBody;
    return chunk.offset! + chunk.end - chunk.start;
  }

  close(): void {
    this.#closed = true;
    this.#reader?.close();
    this.#settings.spare?.close();
  }
}
