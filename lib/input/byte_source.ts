/**
 * Uniform reading of bytes from a file, an open `Deno.FsFile` or a
 * `ReadableStream<Uint8Array>`.
 *
 * @module
 */

import { changeOf, type Fingerprint, fingerprintOf } from "../wire/fingerprint.ts";

/** Something that fills a caller's buffer with the next bytes of an input. */
export interface ByteSource {
  /**
   * Reads into `into`; resolves with the byte count, or null at the end.
   * With `waitMs`, a source that can stall (a pipe, a stream) resolves with
   * 0 when nothing came within that time; the read goes on in the
   * background and nothing is lost.
   */
  read(into: Uint8Array, waitMs?: number): Promise<number | null>;
  /** Releases the input. Safe to call more than once. */
  close(): void;
  /**
   * Total size in bytes, when known: regular files only. A pipe, a FIFO or a
   * device has none, and cannot be read twice or at an offset.
   */
  readonly size?: number;
}

/** Reads an open file with `read()` straight into the caller's buffer (no copy). */
export class FileSource implements ByteSource {
  #file: Deno.FsFile;
  #owned: boolean;
  #closed = false;
  readonly size?: number;

  /** `owned` files are closed by {@linkcode FileSource.close}. */
  constructor(file: Deno.FsFile, owned: boolean, size?: number) {
    this.#file = file;
    this.#owned = owned;
    this.size = size;
  }

  /**
   * Opens the file at `path` for reading. A path that is not a regular file
   * (a FIFO, a process substitution) is read as a stream, which may stall.
   */
  static async open(path: string): Promise<ByteSource> {
    const file = await Deno.open(path, { read: true });
    try {
      const info = await file.stat();
      if (info.isDirectory) throw new Deno.errors.IsADirectory(`${path} is a directory`);
      if (!info.isFile) return new StreamSource(file.readable);
      return new FileSource(file, true, sizeOf(info));
    } catch (error) {
      file.close();
      throw error;
    }
  }

  read(into: Uint8Array): Promise<number | null> {
    return this.#file.read(into);
  }

  /** Moves the read position back by `bytes` (after a look at the first bytes). */
  async rewind(bytes: number): Promise<void> {
    await this.#file.seek(-bytes, Deno.SeekMode.Current);
  }

  /** What the file looks like now (a regular file only). */
  fingerprint(): Fingerprint {
    return fingerprintOf(this.#file);
  }

  /** Why the file is no longer what `was` describes, if it is not. */
  changeSince(was: Fingerprint): string | undefined {
    return changeOf(this.#file, was);
  }

  close(): void {
    if (this.#closed || !this.#owned) return;
    this.#closed = true;
    try {
      this.#file.close();
    } catch {
      // already closed by its owner
    }
  }
}

/** Reads a web stream, copying its pieces into the caller's buffer. */
export class StreamSource implements ByteSource {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #piece: Uint8Array | undefined;
  /** A read that a caller stopped waiting for: the next read takes its bytes. */
  #pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  #done = false;

  /** Locks `stream` until {@linkcode StreamSource.close}. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async read(into: Uint8Array, waitMs?: number): Promise<number | null> {
    while (this.#piece === undefined || this.#piece.length === 0) {
      if (this.#done) return null;
      this.#pending ??= this.#reader.read();
      const step = waitMs === undefined ? await this.#pending : await within(this.#pending, waitMs);
      if (step === undefined) return 0; // nothing came in time; the read goes on
      this.#pending = undefined;
      const { value, done } = step;
      if (done) {
        this.#done = true;
        return null;
      }
      this.#piece = value;
    }
    const n = Math.min(into.length, this.#piece.length);
    into.set(n === this.#piece.length ? this.#piece : this.#piece.subarray(0, n));
    this.#piece = this.#piece.subarray(n);
    return n;
  }

  close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#reader.cancel().catch(() => {});
  }
}

/** The size of a regular file; undefined for a FIFO, a pipe or a device (their stat says 0). */
export function sizeOf(info: Deno.FileInfo): number | undefined {
  return info.isFile ? info.size : undefined;
}

/** What `promise` resolves with, or undefined when it takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** An input read at positions: a file by its spare handle, an object by byte-range requests. */
export interface Positional {
  /** Reads into `into` from byte `at`; null at the end. */
  readAt(at: number, into: Uint8Array): Promise<number | null>;
  /** Fills `into` from byte `at`; resolves with how many bytes there were. */
  fill(at: number, into: Uint8Array): Promise<number>;
  /** Why the input is no longer what `was` describes, if it is not. */
  changeSince(was: Fingerprint): string | undefined;
  close(): void;
}

/**
 * An open file read at positions by several readers in turn (a seek and a
 * read each, one at a time): the main thread's spare handle on an input, so
 * that reading again from it (a chunk to re-run, the rest of a file after a
 * fall-back from ranges) needs no path, and goes on if the file is deleted
 * or renamed under the run.
 */
export class PositionalFile implements Positional {
  readonly #file: Deno.FsFile;
  #last: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Reads `file` (owned: closed by {@linkcode PositionalFile.close}). */
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** The open file, for checks of its identity. */
  get file(): Deno.FsFile {
    return this.#file;
  }

  /** Why the file is no longer what `was` describes, if it is not. */
  changeSince(was: Fingerprint): string | undefined {
    return changeOf(this.#file, was);
  }

  /** Reads into `into` from byte `at`; null at the end. */
  readAt(at: number, into: Uint8Array): Promise<number | null> {
    const read = this.#last.then(async () => {
      await this.#file.seek(at, Deno.SeekMode.Start);
      return await this.#file.read(into);
    });
    this.#last = read.catch(() => {});
    return read;
  }

  /** Fills `into` from byte `at`; resolves with how many bytes there were. */
  async fill(at: number, into: Uint8Array): Promise<number> {
    let got = 0;
    while (got < into.length) {
      const n = await this.readAt(at + got, into.subarray(got));
      if (n === null) break;
      got += n;
    }
    return got;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#last.finally(() => this.#file.close()).catch(() => {});
  }
}

/** A {@linkcode ByteSource} reading a {@linkcode PositionalFile} from a position on. */
export class PositionalSource implements ByteSource {
  readonly #file: Positional;
  #at: number;
  readonly size?: number;

  /** Reads `file` from byte `at`; `size` is the file's. */
  constructor(file: Positional, at: number, size?: number) {
    this.#file = file;
    this.#at = at;
    this.size = size;
  }

  async read(into: Uint8Array): Promise<number | null> {
    const n = await this.#file.readAt(this.#at, into);
    if (n !== null) this.#at += n;
    return n;
  }

  close(): void {
    // the file is its owner's
  }
}
