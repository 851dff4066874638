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
