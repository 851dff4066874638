/**
 * Compressed input read as its decoded bytes: the main thread reads the
 * compressed bytes and a decoding worker (`workers/decode_worker.ts`) inflates
 * them, so decompression runs beside the main thread's cutting and the
 * classifying workers.
 *
 * @module
 */

import { type ByteSource, within } from "./byte_source.ts";
import { type Compression, DECODED, sniff, SNIFF_BYTES } from "./compression.ts";
import type { DecodeReply, DecodeRequest } from "./decode_protocol.ts";
import { InputError } from "../errors.ts";
import { DecoderPool } from "./decoders.ts";

/** Compressed bytes read and sent to the decoder at a time. */
const PIECE_BYTES = 1 << 20;
/** Pieces the decoder may hold at once: one being decoded, one waiting. */
const IN_FLIGHT = 2;
/** Decoded bytes waiting for the reader before no more compressed bytes are sent. */
const HIGH_WATER = 16 << 20;

/** A source whose first bytes were read to look at them, given back before the rest. */
export class Prefixed implements ByteSource {
  #head: Uint8Array;
  #inner: ByteSource;
  readonly size?: number;

  constructor(head: Uint8Array, inner: ByteSource) {
    this.#head = head;
    this.#inner = inner;
    this.size = inner.size;
  }

  read(into: Uint8Array, waitMs?: number): Promise<number | null> {
    if (this.#head.length === 0) return this.#inner.read(into, waitMs);
    const n = Math.min(into.length, this.#head.length);
    into.set(this.#head.subarray(0, n));
    this.#head = this.#head.subarray(n);
    return Promise.resolve(n);
  }

  close(): void {
    this.#inner.close();
  }
}

/**
 * Looks at the first bytes of `source`: a gzip or zstd input comes back as a
 * {@linkcode DecodedSource}, any other as itself (its first bytes given back
 * first). bzip2 and xz are refused with an InputError saying how to read
 * them anyway. `rewind` puts a file's position back instead of keeping the
 * bytes (a regular file that is not compressed keeps being that file).
 */
export async function decodedIfCompressed(
  source: ByteSource,
  file: string | undefined,
  rewind?: (bytes: number) => Promise<void>,
  pool?: DecoderPool,
): Promise<{ source: ByteSource; compression?: Compression }> {
  const head = new Uint8Array(SNIFF_BYTES);
  let got = 0;
  while (got < head.length) {
    const n = await source.read(head.subarray(got));
    if (n === null) break;
    got += n;
  }
  const bytes = head.subarray(0, got);
  const compression = sniff(bytes);
  if (compression !== undefined && !DECODED.includes(compression)) {
    source.close();
    const tool = compression === "bzip2" ? "bzcat" : "xzcat";
    throw new InputError(
      file,
      `it is ${compression}-compressed, which crunch does not decode (gzip and zstd it does): ` +
        `give it the decoded bytes, e.g. crunch --format csv m.ts <(${tool} ${file ?? "file"}) ` +
        `or ${tool} ${file ?? "file"} | crunch --format csv m.ts -`,
    );
  }
  if (compression === undefined) {
    if (rewind && got > 0) {
      await rewind(got);
      return { source };
    }
    return { source: got > 0 ? new Prefixed(bytes.slice(), source) : source };
  }
  return {
    source: new DecodedSource(
      new Prefixed(bytes.slice(), source),
      compression as "gzip" | "zstd",
      file,
      pool,
    ),
    compression,
  };
}

/** The decoded bytes of a gzip or zstd source. */
export class DecodedSource implements ByteSource {
  readonly #inner: ByteSource;
  readonly #worker: Worker;
  /** Where the worker goes once it has decoded the whole input cleanly (else it is ended). */
  readonly #pool: DecoderPool | undefined;
  readonly #kind: "gzip" | "zstd";
  readonly #file?: string;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #inFlight = 0;
  #pumping = false;
  #innerDone = false;
  #done = false;
  #closed = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  /** The worker was let go (to the pool, or ended). */
  #released = false;
  /** Compressed bytes the decoder has taken. */
  #taken = 0;
  /** Decoded bytes never have a size before they are read. */
  readonly size = undefined;
  /** The compressed input's size, when known: progress is measured on compressed bytes. */
  readonly compressedSize?: number;

  /** Decodes `inner` (compressed with `kind`) in a worker of its own, or one of `pool`'s. */
  constructor(inner: ByteSource, kind: "gzip" | "zstd", file?: string, pool?: DecoderPool) {
    this.#inner = inner;
    this.#kind = kind;
    this.#file = file;
    this.#pool = pool;
    this.compressedSize = inner.size;
    this.#worker = pool?.take(kind) ?? DecoderPool.start(kind);
    this.#worker.onmessage = (event: MessageEvent<DecodeReply>) => this.#reply(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(event.message);
    };
    this.#post({ type: "start", kind });
    this.#pump();
  }

  /** Compressed bytes decoded so far. */
  get compressedRead(): number {
    return this.#taken;
  }

  async read(into: Uint8Array, waitMs?: number): Promise<number | null> {
    while (this.#queue.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#done) return null;
      const woken = new Promise<true>((resolve) => this.#wake = () => resolve(true));
      if (waitMs === undefined) await woken;
      else if (
        await within(woken, waitMs) === undefined && this.#queue.length === 0 && !this.#error &&
        !this.#done
      ) return 0; // nothing came in time; decoding goes on
    }
    const piece = this.#queue[0];
    const n = Math.min(into.length, piece.length);
    into.set(n === piece.length ? piece : piece.subarray(0, n));
    if (n === piece.length) this.#queue.shift();
    else this.#queue[0] = piece.subarray(n);
    this.#queued -= n;
    this.#pump();
    return n;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#done = true;
    this.#release(true);
    this.#inner.close();
    this.#queue = [];
    this.#wake?.();
  }

  /**
   * Lets the worker go, once: back to the pool when it decoded the whole
   * input cleanly (it waits for the next file there), else ended.
   */
  #release(end = false): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#pool && !end) this.#pool.give(this.#worker);
    else this.#worker.terminate();
  }

  #post(request: DecodeRequest, transfer: Transferable[] = []): void {
    this.#worker.postMessage(request, transfer);
  }

  /** Sends compressed pieces while the decoder and the queue have room. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (
        !this.#innerDone && !this.#closed && this.#inFlight < IN_FLIGHT &&
        this.#queued < HIGH_WATER
      ) {
        const piece = new Uint8Array(PIECE_BYTES);
        let n: number | null;
        try {
          n = await this.#inner.read(piece);
        } catch (error) {
          this.#fail(`cannot read it: ${(error as Error).message}`, error);
          return;
        }
        if (this.#closed) return;
        if (n === null) {
          this.#innerDone = true;
          this.#post({ type: "end" });
          return;
        }
        if (n === 0) continue;
        this.#inFlight++;
        const bytes = n === piece.length ? piece : piece.slice(0, n);
        this.#post({ type: "data", bytes }, [bytes.buffer]);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #reply(reply: DecodeReply): void {
    switch (reply.type) {
      case "out":
        this.#queue.push(reply.bytes);
        this.#queued += reply.bytes.length;
        break;
      case "taken":
        this.#inFlight--;
        this.#taken += reply.bytes;
        this.#pump();
        break;
      case "done":
        this.#done = true;
        this.#release();
        this.#inner.close();
        break;
      case "error":
        this.#fail(reply.message);
        break;
    }
    this.#wake?.();
  }

  #fail(message: string, cause?: unknown): void {
    if (this.#closed) return;
    this.#error ??= new InputError(
      this.#file,
      /^cannot read/.test(message)
        ? message
        : `its ${this.#kind} data cannot be decoded: ${message}` +
          (/unexpected end/i.test(message) ? " (the file is truncated?)" : ""),
      { cause },
    );
    this.#release(true);
    this.#wake?.();
  }
}
