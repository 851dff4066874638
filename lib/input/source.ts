/**
 * Turns what the caller passes as input (a path, a URL, an open file, a byte
 * stream, or an iterable of rows) into a source of tasks for the workers:
 * chunks of whole records, or batches of rows.
 *
 * @module
 */

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ByteSource, FileSource, sizeOf, StreamSource } from "./byte_source.ts";
import { withoutCompression } from "./compression.ts";
import { decodedIfCompressed, DecodedSource } from "./decoded_source.ts";
import { type Chunk, ChunkReader, RecordTooLong } from "./chunk_reader.ts";
import { InputError, ParseError } from "../errors.ts";
import type { Fingerprint } from "../wire/fingerprint.ts";
import type { ResolvedRunOptions } from "../options.ts";
import { delimiterOf, type Format } from "../formats/format.ts";
import type { Files } from "../files.ts";
import { parseDelimitedRows } from "../formats/csv.ts";

/**
 * What crunch can read: a file path or `file:` URL (format from the
 * extension; gzip and zstd told by their first bytes), many files
 * ({@linkcode Files}, from `files()`), a `ReadableStream<Uint8Array>` or
 * `Deno.FsFile` (with the `format` option), or any iterable or async
 * iterable of rows.
 */
export type Input =
  | string
  | Files
  | URL
  | ReadableStream<Uint8Array>
  | Deno.FsFile
  | Iterable<unknown>
  | AsyncIterable<unknown>;

/** One unit of work for a worker. */
export type Task =
  | { kind: "chunk"; chunk: Chunk; copy?: Uint8Array }
  | {
    kind: "range";
    path: string;
    offset: number;
    end: number;
    exact: boolean;
    /** What the file was when the run opened it. */
    fingerprint?: Fingerprint;
  }
  | { kind: "batch"; rows: unknown[] };

/** What a source knows once it is open. */
export interface SourceHead {
  /** "rows" for iterables. */
  format: Format | "rows";
  /** Column names, for CSV and TSV. */
  columns?: string[];
  /** 1-based line of the first data record (after the header). */
  firstLine: number;
  /** The field delimiter, when not the format's own. */
  delimiter?: string;
  /** The most tasks the input can make, when known: no more workers than that are useful. */
  tasks?: number;
}

/** A source of tasks for one run. */
export interface TaskSource {
  /** The file, for error messages. */
  readonly file?: string;
  /** Who reads a byte input now. */
  readonly reader?: "workers" | "main";
  /** Input size in bytes, when known. */
  readonly bytesTotal?: number;
  /** Bytes read so far. */
  readonly bytesRead: number;
  /** Opens the input and reads its header. */
  open(): Promise<SourceHead>;
  /** The next task, or null at the end. */
  next(): Promise<Task | null>;
  /**
   * The same task again, to re-run it after its worker died: a chunk's bytes
   * are re-read from the file, or copied from what was kept of a stream.
   */
  again(task: Task): Promise<Task>;
  /**
   * Ranges only: stop handing out ranges and read and cut the rest of the
   * file on the main thread, from byte `start` (a record start).
   */
  fallBack?(start: number): void;
  /** Ranges only: every record of a range of `bytes` bytes is classified (for `bytesRead`). */
  finished?(bytes: number): void;
  /** Releases the input; safe at any time, more than once. */
  close(): void;
}

const EXTENSIONS: Record<string, Format> = {
  ".csv": "csv",
  ".tsv": "tsv",
  ".tab": "tsv",
  ".ndjson": "ndjson",
  ".jsonl": "ndjson",
};

/** Returns the format a file name's extension implies, if any. */
export function formatFromName(name: string): Format | undefined {
  const plain = withoutCompression(name); // reviews.csv.gz holds CSV
  const dot = plain.lastIndexOf(".");
  return dot === -1 ? undefined : EXTENSIONS[plain.slice(dot).toLowerCase()];
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === "function";
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof (value as Iterable<unknown>)?.[Symbol.iterator] === "function";
}

/** The smallest chunk an input is cut into so that every worker gets work. */
const MIN_SPREAD_BYTES = 64;

/**
 * The chunk size for `bytes` of input on `workers` workers: `chunkBytes`,
 * or less for a small input, so that each worker gets two tasks (a slow
 * classifier over a small file would otherwise leave all but one idle).
 */
export function spreadChunk(bytes: number, chunkBytes: number, workers: number): number {
  return Math.min(chunkBytes, Math.max(MIN_SPREAD_BYTES, Math.ceil(bytes / (workers * 2))));
}

/** Why the format of `path` is not known from its name; `remedy` says what to pass. */
export function unknownFormat(path: string, remedy: string): string {
  return `cannot tell the format of ${path} from its extension (.csv, .tsv, .ndjson, .jsonl, ` +
    `each optionally .gz or .zst): ${remedy}`;
}

/** Resolves `input` into a task source, checking that its format is known. */
export function taskSource(
  input: Input,
  options: ResolvedRunOptions & { workers?: number },
): TaskSource {
  if (typeof input === "string" || input instanceof URL) {
    const path = input instanceof URL || input.startsWith("file:") ? fileURLToPath(input) : input;
    const format = options.format ?? formatFromName(path);
    if (format === undefined) {
      throw new TypeError(unknownFormat(path, "pass the format option"));
    }
    return new ByteTaskSource(
      () => FileSource.open(path),
      format,
      options,
      path,
      true,
      options.reader === "workers",
    );
  }
  if (input instanceof ReadableStream || input instanceof Deno.FsFile) {
    if (options.format === undefined) {
      throw new TypeError(
        "a stream or open file input needs the format option (csv, tsv or ndjson)",
      );
    }
    const open = input instanceof ReadableStream
      ? () => Promise.resolve(new StreamSource(input))
      : async () => new FileSource(input, false, sizeOf(await input.stat()));
    return new ByteTaskSource(open, options.format, options, undefined, false);
  }
  if (isAsyncIterable(input) || isIterable(input)) {
    // An array of few rows still makes two batches per worker.
    const batchSize = Array.isArray(input) && options.workers
      ? Math.min(options.batchSize, Math.max(1, Math.ceil(input.length / (options.workers * 2))))
      : options.batchSize;
    return new RowTaskSource(input, batchSize);
  }
  throw new TypeError(
    `unsupported input ${
      Object.prototype.toString.call(input)
    }: pass a file path, a URL, a Deno.FsFile, a ReadableStream or an iterable of rows`,
  );
}

/**
 * Chunks of a byte input, read and cut on the main thread; or, for a file
 * that workers read themselves, byte ranges (until a guessed cut proves wrong
 * and {@linkcode TaskSource.fallBack} switches to chunks).
 */
class ByteTaskSource implements TaskSource {
  #openSource: () => Promise<ByteSource>;
  #format: Format;
  #options: ResolvedRunOptions & { workers?: number };
  #reader?: ChunkReader;
  #closed = false;
  /** True when chunks can be read again from the file; otherwise a copy of each is kept. */
  #rereadable: boolean;
  #rereader: Promise<Deno.FsFile> | undefined;
  readonly file?: string;
  bytesTotal?: number;
  /** Ranges: where the next range starts (undefined once reading is the main thread's). */
  #rangeAt: number | undefined;
  /** Ranges: where the records start (after the header). */
  #dataStart = 0;
  #ranges: boolean;
  /** Ranges: the file's absolute path, for the workers. */
  #absolute: string | undefined;
  /**
   * The file offset the main thread's reading starts at: 0, or after a
   * fall-back from ranges the offset it reopens the file at (when `next()`
   * finds no reader).
   */
  #readerBase = 0;
  /** A compressed input: progress counts its compressed bytes. */
  #decoded: DecodedSource | undefined;
  /** A regular file's size and first bytes at open, to notice it changing under the run. */
  #fingerprint: Fingerprint | undefined;
  /** The file source the main thread reads now, if it reads one. */
  #fileSource: FileSource | undefined;

  constructor(
    openSource: () => Promise<ByteSource>,
    format: Format,
    options: ResolvedRunOptions & { workers?: number },
    file: string | undefined,
    rereadable: boolean,
    ranges = false,
  ) {
    this.#openSource = openSource;
    this.#format = format;
    this.#options = options;
    this.file = file;
    this.#rereadable = rereadable;
    this.#ranges = ranges;
  }

  get reader(): "workers" | "main" {
    return this.#rangeAt === undefined ? "main" : "workers";
  }

  /** Ranges: the header's bytes and those of every finished range. */
  #finishedBytes = 0;

  finished(bytes: number): void {
    this.#finishedBytes += bytes;
  }

  get bytesRead(): number {
    if (this.#decoded) return this.#decoded.compressedRead;
    if (this.#rangeAt !== undefined) return this.#finishedBytes;
    return this.#readerBase + (this.#reader?.bytesRead ?? 0);
  }

  async open(): Promise<SourceHead> {
    const head = await this.#openHead();
    const start = this.#options.startAt;
    if (start === undefined) return head;
    // A resumed run: the header is read as before, the records start where the last run stopped.
    if (this.#decoded || this.bytesTotal === undefined) {
      throw new InputError(
        this.file,
        "a compressed input or a stream cannot be resumed from an offset",
      );
    }
    if (this.#rangeAt !== undefined) {
      this.#dataStart = this.#rangeAt = this.#finishedBytes = start.byte;
    } else {
      this.#reader?.close();
      this.fallBack(start.byte);
    }
    return { ...head, firstLine: start.line };
  }

  async #openHead(): Promise<SourceHead> {
    let source: ByteSource;
    try {
      source = await this.#openSource();
    } catch (error) {
      throw openError(this.file, error);
    }
    // gzip and zstd are told by their first bytes, whatever the name says.
    const inner = source;
    const sniffed = await decodedIfCompressed(
      source,
      this.file,
      inner instanceof FileSource ? (bytes) => inner.rewind(bytes) : undefined,
    );
    source = sniffed.source;
    if (source instanceof DecodedSource) this.#decoded = source;
    if (this.#closed) {
      source.close();
      throw new Error("input closed");
    }
    this.bytesTotal = source.size ?? this.#decoded?.compressedSize;
    // A FIFO or process substitution (<(zcat f.gz)): read once, in order, by the main thread.
    if (source.size === undefined) this.#rereadable = this.#ranges = false;
    else if (source instanceof FileSource) this.#fingerprint = source.fingerprint();
    if (source.size !== undefined && this.#options.workers) {
      const chunkBytes = spreadChunk(source.size, this.#options.chunkBytes, this.#options.workers);
      this.#options = { ...this.#options, chunkBytes };
    }
    const { chunkBytes, maxRecordBytes } = this.#options;
    this.#reader = new ChunkReader(
      source,
      this.#format,
      chunkBytes,
      maxRecordBytes,
      0,
      this.#options.delimiter,
    );
    if (source instanceof FileSource && source.size !== undefined) this.#fileSource = source;
    const head = await this.#head();
    if (source.size !== undefined) head.tasks = Math.max(1, Math.ceil(source.size / chunkBytes));
    if (this.#ranges) {
      // The workers read the rest: the main thread keeps only where the records start.
      this.#dataStart = this.#rangeAt = this.#finishedBytes = await this.#reader.position();
      // Resolved now, as the main thread just opened it: a later Deno.chdir() changes nothing.
      this.#absolute = resolve(this.file!);
      this.#reader.close();
      this.#reader = undefined;
    }
    return head;
  }

  async #head(): Promise<SourceHead> {
    if (this.#format === "ndjson") return { format: "ndjson", firstLine: 1 };
    let line = 1;
    for (;;) {
      const { header: named = true, columns: given, delimiter } = this.#options;
      let header;
      try {
        // Without a header row the first record is only looked at: it is data.
        header = await this.#reader!.header(false);
      } catch (error) {
        if (!(error instanceof RecordTooLong)) throw error;
        throw new ParseError(
          `the header row is longer than ${error.limit} bytes (maxRecordBytes): is a quote left open, or do the lines end with a lone CR?`,
          { file: this.file, line },
        );
      }
      if (header === null) {
        return { format: this.#format, columns: given ?? [], firstLine: line, delimiter };
      }
      const text = new TextDecoder().decode(header.bytes);
      if (text.trim() === "") {
        await this.#reader!.header(); // a blank line before the first record: skip it
        line += header.newlines;
        continue;
      }
      if (/\r(?!\n)./s.test(text)) {
        throw new ParseError(
          "the lines end with a lone CR (classic Mac line ends), which crunch does not read as " +
            `line ends: convert them first, e.g. tr '\\r' '\\n' < ${
              this.file ?? "in.csv"
            } > out.csv`,
          { file: this.file, line },
        );
      }
      const fields = this.#parseHeader(text, line);
      if (!named) {
        // Numbered columns (c1, c2, ...) as many as the first record has, unless given.
        const columns = given ?? fields.map((_, i) => `c${i + 1}`);
        return { format: this.#format, columns, firstLine: line, delimiter };
      }
      await this.#reader!.header();
      if (delimiter === undefined && fields.length === 1) {
        const own = delimiterOf(this.#format);
        const [other] = [";", "|", "\t", ","].filter((d) => d !== own && text.includes(d));
        if (other !== undefined) {
          const name = other === "\t" ? "tab" : other;
          throw new ParseError(
            `the header has one column, ${JSON.stringify(fields[0])}, holding ${
              JSON.stringify(other)
            }: if the fields are separated by ${name}, pass --delimiter '${
              other === "\t" ? "\\t" : other
            }' (the delimiter option); to read it as one column, pass --delimiter ','`,
            { file: this.file, line },
          );
        }
      }
      return {
        format: this.#format,
        columns: fields,
        firstLine: line + header.newlines,
        delimiter,
      };
    }
  }

  #parseHeader(text: string, line: number): string[] {
    const where = { file: this.file, line };
    let rows: string[][];
    try {
      rows = parseDelimitedRows(text, delimiterOf(this.#format, this.#options.delimiter));
    } catch (error) {
      throw new ParseError(`bad header row: ${(error as Error).message}`, where);
    }
    const columns = rows[0];
    const seen = new Set<string>();
    for (const name of columns) {
      if (seen.has(name)) {
        throw new ParseError(`the header names column ${JSON.stringify(name)} twice`, where);
      }
      seen.add(name);
    }
    return columns;
  }

  fallBack(start: number): void {
    this.#rangeAt = undefined;
    this.#readerBase = start;
    this.#reader = undefined;
  }

  async next(): Promise<Task | null> {
    const at = this.#rangeAt;
    if (at !== undefined) {
      const size = this.bytesTotal!;
      if (at >= size) return null;
      const end = Math.min(size, at + this.#options.chunkBytes);
      this.#rangeAt = end;
      const path = this.#absolute!;
      const exact = at === this.#dataStart;
      return { kind: "range", path, offset: at, end, exact, fingerprint: this.#fingerprint };
    }
    if (this.#reader === undefined) {
      // Fallen back from ranges: the main thread reads on from the verified boundary.
      const start = this.#readerBase;
      if (this.#closed) return null;
      const file = await Deno.open(this.#absolute ?? this.file!, { read: true });
      await file.seek(start, Deno.SeekMode.Start);
      const { chunkBytes, maxRecordBytes } = this.#options;
      const source = new FileSource(file, true, this.bytesTotal);
      this.#fileSource = source;
      this.#reader = new ChunkReader(
        source,
        this.#format,
        chunkBytes,
        maxRecordBytes,
        start,
        this.#options.delimiter,
      );
    }
    const chunk = await this.#reader!.next();
    if (chunk === null) {
      // The end of a regular file: still the file the run opened, or only grown?
      const change = this.#fingerprint && this.#fileSource?.changeSince(this.#fingerprint);
      if (change) throw new InputError(this.file, change);
      return null;
    }
    if (this.#rereadable) return { kind: "chunk", chunk };
    const copy = new Uint8Array(chunk.buffer, chunk.start, chunk.end - chunk.start).slice();
    return { kind: "chunk", chunk, copy };
  }

  async again(task: Task): Promise<Task> {
    if (task.kind !== "chunk") return task; // a range is read again by its worker
    const { chunk, copy } = task;
    const length = chunk.end - chunk.start;
    let bytes: Uint8Array;
    if (copy) bytes = copy.slice();
    else {
      this.#rereader ??= Deno.open(this.#absolute ?? this.file!, { read: true });
      const file = await this.#rereader;
      await file.seek(chunk.offset, Deno.SeekMode.Start);
      bytes = new Uint8Array(length);
      for (let at = 0; at < length;) {
        const n = await file.read(bytes.subarray(at));
        if (n === null) {
          throw new InputError(this.file, "it shrank while it was being read");
        }
        at += n;
      }
    }
    const buffer = bytes.buffer as ArrayBuffer;
    return { kind: "chunk", chunk: { ...chunk, buffer, start: 0, end: length }, copy };
  }

  close(): void {
    this.#closed = true;
    this.#reader?.close();
    this.#rereader?.then((file) => file.close(), () => {});
    this.#rereader = undefined;
  }
}

/** Batches of rows from an iterable. */
class RowTaskSource implements TaskSource {
  #iterator: Iterator<unknown> | AsyncIterator<unknown>;
  #async: boolean;
  #batchSize: number;
  #done = false;
  #tasks: number | undefined;
  readonly bytesRead = 0;

  constructor(input: Iterable<unknown> | AsyncIterable<unknown>, batchSize: number) {
    if (Array.isArray(input)) this.#tasks = Math.max(1, Math.ceil(input.length / batchSize));
    this.#async = isAsyncIterable(input);
    this.#iterator = this.#async
      ? (input as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (input as Iterable<unknown>)[Symbol.iterator]();
    this.#batchSize = batchSize;
  }

  open(): Promise<SourceHead> {
    return Promise.resolve({ format: "rows", firstLine: 0, tasks: this.#tasks });
  }

  again(task: Task): Promise<Task> {
    return Promise.resolve(task);
  }

  async next(): Promise<Task | null> {
    if (this.#done) return null;
    const rows: unknown[] = [];
    const it = this.#iterator;
    while (rows.length < this.#batchSize) {
      const step = this.#async ? await it.next() : (it as Iterator<unknown>).next();
      if (step.done) {
        this.#done = true;
        break;
      }
      rows.push(step.value);
    }
    return rows.length ? { kind: "batch", rows } : null;
  }

  close(): void {
    if (this.#done) return;
    this.#done = true;
    try {
      const result = this.#iterator.return?.();
      if (result instanceof Promise) result.catch(() => {});
    } catch {
      // the iterator's own clean-up failed; nothing to add
    }
  }
}

/** Why an input could not be opened, as an InputError (other errors pass through). */
function openError(file: string | undefined, error: unknown): unknown {
  const reason = error instanceof Deno.errors.NotFound
    ? "no such file"
    : error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
    ? `not allowed to read it (${(error as Error).message}); run with --allow-read`
    : error instanceof Deno.errors.IsADirectory
    ? "it is a directory, not a file"
    : undefined;
  return reason === undefined ? error : new InputError(file, reason, { cause: error });
}
