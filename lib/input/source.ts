/**
 * Turns what the caller passes as input (a path, a URL, an open file, a byte
 * stream, or an iterable of rows) into a source of tasks of one kind: byte
 * ranges that workers read themselves (a regular file), chunks cut on the
 * main thread (streams, pipes, compressed files, or when asked), or batches
 * of rows. The input is checked at once; it is opened, its compression told
 * by its first bytes and its header read when the run starts.
 *
 * @module
 */

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../errors.ts";
import type { Files } from "../files.ts";
import type { Format, InputFormat } from "../formats/format.ts";
import type { ResolvedRunOptions } from "../options.ts";
import {
  type ByteSource,
  FileSource,
  PositionalFile,
  sizeOf,
  StreamSource,
} from "./byte_source.ts";
import { ChunkReader } from "./chunk_reader.ts";
import { type ChunkSettings, ChunkSource } from "./chunks.ts";
import { withoutCompression } from "./compression.ts";
import { decodedIfCompressed, DecodedSource } from "./decoded_source.ts";
import { transcodedIfNeeded } from "./transcoded.ts";
import { readHead } from "./head.ts";
import { RangeSource } from "./ranges.ts";
import { ParquetPlan } from "./row_groups.ts";
import { RemoteSource } from "./remote_source.ts";
import { RemoteClient } from "../remote/client.ts";
import { isRemote, remoteObject, shown } from "../remote/location.ts";
import { SelectedSource } from "./selected.ts";
import { LimitedSource } from "./limited.ts";
import { isAsyncIterable, isIterable, RowSource } from "./rows.ts";
import type { InputPlan, OpenInput } from "./task.ts";

/**
 * What crunch can read: a file path or `file:` URL (format from the
 * extension; gzip and zstd told by their first bytes), an `http://`,
 * `https://` or `s3://bucket/key` URL (read by range by the workers), many
 * files ({@linkcode Files}, from `files()`, S3 prefixes and globs too), a
 * `ReadableStream<Uint8Array>` or `Deno.FsFile` (with the `format` option),
 * or any iterable or async iterable of rows.
 */
export type Input =
  | string
  | Files
  | URL
  | ReadableStream<Uint8Array>
  | Deno.FsFile
  | Iterable<unknown>
  | AsyncIterable<unknown>;

const EXTENSIONS: Record<string, InputFormat> = {
  ".csv": "csv",
  ".tsv": "tsv",
  ".tab": "tsv",
  ".ndjson": "ndjson",
  ".jsonl": "ndjson",
  ".parquet": "parquet",
  ".pq": "parquet",
};

/** Returns the format a file name's extension implies, if any. */
export function formatFromName(name: string): InputFormat | undefined {
  // reviews.csv.gz holds CSV; so does https://host/reviews.csv?token=...
  const plain = withoutCompression(isRemote(name) ? name.replace(/[?#].*$/, "") : name);
  const dot = plain.lastIndexOf(".");
  return dot === -1 ? undefined : EXTENSIONS[plain.slice(dot).toLowerCase()];
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
    `each optionally .gz or .zst, or .parquet): ${remedy}`;
}

/** The options an input is read with. */
export type InputOptions = ResolvedRunOptions & { workers?: number };

/** Checks `input` (its format known, its kind supported) and plans how to read it. */
export function planInput(input: Input, options: InputOptions): InputPlan {
  const remote = typeof input === "string" ? input : input instanceof URL ? input.href : "";
  if (isRemote(remote)) {
    const object = remoteObject(remote);
    const name = shown(remote);
    const format = options.format ?? formatFromName(remote);
    if (format === undefined) throw new TypeError(unknownFormat(name, "pass the format option"));
    if (format === "parquet") return new ParquetPlan(remote, options);
    const client = new RemoteClient({ headers: options.headers, timeoutMs: options.httpTimeout });
    // The first request brings the head and the first chunk's records, no more.
    const first = Math.min(1 << 20, Math.max(64 << 10, options.chunkBytes));
    return new BytePlan(() => RemoteSource.open(client, object, first), format, options, name);
  }
  if (typeof input === "string" || input instanceof URL) {
    const path = input instanceof URL || input.startsWith("file:") ? fileURLToPath(input) : input;
    const format = options.format ?? formatFromName(path);
    if (format === undefined) {
      throw new TypeError(unknownFormat(path, "pass the format option"));
    }
    if (format === "parquet") return new ParquetPlan(path, options);
    return new BytePlan(() => FileSource.open(path), format, options, path);
  }
  if (input instanceof ReadableStream || input instanceof Deno.FsFile) {
    if (options.format === undefined || options.format === "parquet") {
      throw new TypeError(
        "a stream or open file input needs the format option (csv, tsv or ndjson; Parquet is " +
          "read by position: pass its path or URL)",
      );
    }
    const open = input instanceof ReadableStream
      ? () => Promise.resolve(new StreamSource(input))
      : async () => new FileSource(input, false, sizeOf(await input.stat()));
    return new BytePlan(open, options.format, options, undefined);
  }
  if (isAsyncIterable(input) || isIterable(input)) {
    // An array of few rows still makes two batches per worker.
    const length = Array.isArray(input) ? Math.min(input.length, options.limit ?? Infinity) : 0;
    const batchSize = Array.isArray(input) && options.workers
      ? Math.min(options.batchSize, Math.max(1, Math.ceil(length / (options.workers * 2))))
      : options.batchSize;
    const rows = options.limit === undefined ? input : firstRows(input, options.limit);
    const source = new RowSource(rows, batchSize);
    return {
      file: undefined,
      open: () => Promise.resolve({ head: source.head, source }),
      close: () => source.close(),
    };
  }
  throw new TypeError(
    `unsupported input ${
      Object.prototype.toString.call(input)
    }: pass a file path, a URL, a Deno.FsFile, a ReadableStream or an iterable of rows`,
  );
}

/** The first `limit` rows of an iterable or async iterable. */
async function* firstRows(
  rows: Iterable<unknown> | AsyncIterable<unknown>,
  limit: number,
): AsyncGenerator<unknown> {
  if (limit <= 0) return;
  let taken = 0;
  for await (const row of rows) {
    yield row;
    if (++taken >= limit) return;
  }
}

/** A byte input: a file by path (read twice, by range, when it is a regular file) or a stream. */
class BytePlan implements InputPlan {
  readonly #open: () => Promise<ByteSource>;
  readonly #format: Format;
  readonly #options: InputOptions;
  readonly file: string | undefined;
  #closed = false;
  #opened: OpenInput | undefined;
  /**
   * The source being opened, outermost first made: closed by close() while
   * the head is still being read (a decoder that went quiet must not keep a
   * stopped run waiting).
   */
  #opening: ByteSource | undefined;

  constructor(
    open: () => Promise<ByteSource>,
    format: Format,
    options: InputOptions,
    file: string | undefined,
  ) {
    this.#open = open;
    this.#format = format;
    this.#options = options;
    this.file = file;
  }

  async open(): Promise<OpenInput> {
    try {
      const opened = await this.#openHead();
      this.#opened = opened;
      if (this.#closed) opened.source.close();
      return opened;
    } finally {
      this.#opening = undefined;
    }
  }

  async #openHead(): Promise<OpenInput> {
    let source: ByteSource;
    try {
      source = await this.#open();
    } catch (error) {
      throw openError(this.file, error);
    }
    this.#track(source);
    const origin = source;
    // gzip and zstd are told by their first bytes, whatever the name says.
    const inner = source;
    const sniffed = await decodedIfCompressed(
      source,
      this.file,
      inner instanceof FileSource ? (bytes) => inner.rewind(bytes) : undefined,
      this.#options.decoders,
    );
    source = this.#track(sniffed.source);
    const decoded = source instanceof DecodedSource ? source : undefined;
    // UTF-16 (and encodings whose bytes cannot be cut as they are) is decoded here, to UTF-8.
    const plain = source;
    const text = await transcodedIfNeeded(
      source,
      this.#options.encoding,
      plain instanceof FileSource ? (bytes) => plain.rewind(bytes) : undefined,
    );
    source = this.#track(text.source);
    const options = this.#options;
    const file = source instanceof FileSource && source.size !== undefined ? source : undefined;
    const settings = await this.#settings(source, origin, file);
    const { chunkBytes } = settings;
    const reader = new ChunkReader(
      source,
      this.#format,
      chunkBytes,
      options.maxRecordBytes,
      0,
      options.delimiter,
    );
    const head = await readHead(
      reader,
      this.#format,
      { ...options, encoding: text.encoding },
      this.file,
    );
    if (source.size !== undefined) head.tasks = Math.max(1, Math.ceil(source.size / chunkBytes));
    head.size = origin instanceof RemoteSource ? origin.version.size : origin.size;
    const opened = await this.#pick(head, reader, settings, decoded, file);
    if (origin instanceof RemoteSource && !origin.ranges) {
      opened.warnings = [
        `${this.file}: the server ignores byte-range requests (it answered 200 to one): ` +
        "the main thread read it once, as a stream",
      ];
    }
    return opened;
  }

  /** How `source` (opened as `origin`; a regular file: `file`) is cut and read again. */
  async #settings(
    source: ByteSource,
    origin: ByteSource,
    file: FileSource | undefined,
  ): Promise<ChunkSettings> {
    const options = this.#options;
    let chunkBytes = options.chunkBytes;
    if (source.size !== undefined && options.workers) {
      chunkBytes = spreadChunk(source.size, chunkBytes, options.workers);
    }
    // An object whose server serves ranges, neither compressed nor transcoded: read by range.
    const remote = origin instanceof RemoteSource && origin.ranges && source.size !== undefined
      ? origin
      : undefined;
    const path = remote
      ? remote.object.name
      : source.size !== undefined && this.file !== undefined
      ? resolve(this.file)
      : undefined;
    return {
      format: this.#format,
      chunkBytes,
      maxRecordBytes: options.maxRecordBytes,
      delimiter: options.delimiter,
      file: this.file,
      // A FIFO or process substitution (<(zcat f.gz)) is read once, in order.
      // Resolved now, as the main thread just opened it: a later Deno.chdir() changes nothing.
      path,
      size: source.size,
      fingerprint: file?.fingerprint(),
      // Opened now too: reading again needs no path (the file may be deleted or renamed).
      spare: remote
        ? remote.positional()
        : path === undefined
        ? undefined
        : new PositionalFile(await Deno.open(path)),
      version: remote?.version,
      length: origin instanceof RemoteSource ? origin.version.size : undefined,
    };
  }

  /** Ranges for a regular file the workers may read, else chunks; from where a resumed run stopped. */
  async #pick(
    head: OpenInput["head"],
    reader: ChunkReader,
    settings: ChunkSettings,
    decoded: DecodedSource | undefined,
    file: FileSource | undefined,
  ): Promise<OpenInput> {
    const start = this.#options.startAt;
    if (start !== undefined && (decoded || settings.size === undefined)) {
      reader.close();
      settings.spare?.close();
      throw new InputError(
        this.file,
        "a compressed input or a stream cannot be resumed from an offset",
      );
    }
    if (start !== undefined) head = { ...head, firstLine: start.line };
    const { select, limit } = this.#options;
    if (select !== undefined) {
      const chunks = new ChunkSource(settings, reader, 0, decoded, file);
      return { head, source: new SelectedSource(chunks, head, select) };
    }
    if (limit !== undefined) {
      const chunks = new ChunkSource(settings, reader, 0, decoded, file);
      return { head, source: new LimitedSource(chunks, head, limit) };
    }
    const ranges = this.#options.reader === "workers" && settings.path !== undefined && !decoded;
    if (ranges) {
      // The workers read the rest: the main thread keeps only where the records start.
      const at = start?.byte ?? await reader.position();
      reader.close();
      const whole = settings as ChunkSettings & { path: string; size: number };
      return { head, source: new RangeSource(whole, at) };
    }
    if (start !== undefined) {
      reader.close();
      return { head, source: new ChunkSource(settings, undefined, start.byte) };
    }
    return { head, source: new ChunkSource(settings, reader, 0, decoded, file) };
  }

  /** `source`, now the one being opened: closed at once (and the open ends) if the plan is. */
  #track(source: ByteSource): ByteSource {
    this.#opening = source;
    if (this.#closed) {
      source.close();
      throw new Error("input closed");
    }
    return source;
  }

  close(): void {
    this.#closed = true;
    this.#opening?.close();
    this.#opened?.source.close();
  }
}

/** Why an input could not be opened, as an InputError (other errors pass through). */
export function openError(file: string | undefined, error: unknown): unknown {
  const reason = error instanceof Deno.errors.NotFound
    ? "no such file"
    : error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
    ? `not allowed to read it (${(error as Error).message}); run with --allow-read`
    : error instanceof Deno.errors.IsADirectory
    ? "it is a directory, not a file"
    : undefined;
  return reason === undefined ? error : new InputError(file, reason, { cause: error });
}
