/**
 * Cuts a byte input into chunks of whole records, each in an `ArrayBuffer` of
 * its own that can be transferred to a worker without a copy.
 *
 * The reader fills a fresh buffer of about `chunkBytes` straight from the
 * input, asks the {@linkcode Cutter} for the last record boundary, hands out
 * the buffer up to that boundary, and copies only the partial record after it
 * (usually under a hundred bytes) into the next buffer. A record longer than
 * the buffer makes the buffer grow, up to `maxRecordBytes`.
 *
 * A source that stalls (a slow producer on a pipe: `tail -f log | crunch`)
 * does not hold back the records already read: after {@linkcode STALL_MS}
 * without new bytes, the whole records read so far go out as a chunk.
 *
 * @module
 */

import type { ByteSource } from "./byte_source.ts";
import { type Cutter, cutterFor } from "../formats/cutter.ts";
import type { Format } from "../formats/format.ts";

/** How long the reader waits for more bytes before it hands out the whole records it has. */
export const STALL_MS = 50;

/** A run of whole records: `buffer[start, end)`. */
export interface Chunk {
  buffer: ArrayBuffer;
  start: number;
  end: number;
  /** Byte offset of `buffer[start]` in the input. */
  offset: number;
}

/** The header row's raw bytes and the number of lines it spans. */
export interface HeaderBytes {
  bytes: Uint8Array;
  newlines: number;
}

/** A single record is longer than `maxRecordBytes`: most likely an unclosed quote. */
export class RecordTooLong extends Error {
  /** Creates the error for a record that outgrew `limit` bytes. */
  constructor(readonly limit: number) {
    super(`a record is longer than ${limit} bytes (maxRecordBytes); is a quote left open?`);
  }
}

/** Reads `source` as chunks of whole records. */
export class ChunkReader {
  #source: ByteSource;
  #cutter: Cutter;
  #chunkBytes: number;
  #maxRecordBytes: number;
  #buf: Uint8Array;
  /** First byte not yet handed out. */
  #start = 0;
  /** Input offset of `#buf[0]`. */
  #bufOffset = 0;
  /** End of the bytes read so far. */
  #filled = 0;
  /** End of the bytes the cutter has seen. */
  #scanned = 0;
  #eof = false;
  /** The last read waited STALL_MS for nothing, with bytes not yet handed out. */
  #stalled = false;
  #bytesRead = 0;
  #first = true;

  /**
   * `chunkBytes` is the target chunk size; records are never split. `at` is
   * the input offset of the source's first byte, when that is a record start
   * in the middle of a file (no byte order mark is looked for there).
   */
  constructor(
    source: ByteSource,
    format: Format,
    chunkBytes: number,
    maxRecordBytes: number,
    at = 0,
    delimiter?: string,
  ) {
    this.#source = source;
    this.#bufOffset = at;
    this.#first = at === 0;
    this.#cutter = cutterFor(format, delimiter);
    this.#chunkBytes = chunkBytes;
    this.#maxRecordBytes = maxRecordBytes;
    this.#buf = new Uint8Array(Math.max(chunkBytes, 4)); // room for a byte order mark at least
  }

  /** Input offset of the first byte not yet handed out (after a byte order mark, if any). */
  async position(): Promise<number> {
    await this.#skipBom();
    return this.#bufOffset + this.#start;
  }

  /** Bytes read from the input so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /**
   * Reads until the buffer is full or the input ends; with `mayStall`, also
   * until a read waits STALL_MS in vain while bytes wait to be handed out.
   */
  async #fill(mayStall = false): Promise<void> {
    const buf = this.#buf;
    while (this.#filled < buf.length && !this.#eof) {
      const waiting = mayStall && this.#filled > this.#start;
      const n = await this.#source.read(buf.subarray(this.#filled), waiting ? STALL_MS : undefined);
      if (n === null) this.#eof = true;
      else if (n === 0 && waiting) {
        this.#stalled = true;
        return;
      } else {
        this.#filled += n;
        this.#bytesRead += n;
      }
    }
  }

  /** Moves the unconsumed bytes into a new buffer of `capacity` bytes. */
  #renew(capacity: number): void {
    const rest = this.#buf.subarray(this.#start, this.#filled);
    if (rest.length > this.#maxRecordBytes) throw new RecordTooLong(this.#maxRecordBytes);
    const next = new Uint8Array(Math.max(capacity, rest.length + 1));
    next.set(rest);
    this.#buf = next;
    this.#scanned -= this.#start;
    this.#filled = rest.length;
    this.#bufOffset += this.#start;
    this.#start = 0;
  }

  /** Drops a UTF-8 byte order mark at the very start of the input. */
  async #skipBom(): Promise<void> {
    if (!this.#first) return;
    this.#first = false;
    // Three bytes tell: a slow producer's first line must not wait for a whole buffer.
    while (this.#filled < 3 && !this.#eof) {
      const n = await this.#source.read(this.#buf.subarray(this.#filled));
      if (n === null) this.#eof = true;
      else {
        this.#filled += n;
        this.#bytesRead += n;
      }
    }
    const b = this.#buf;
    if (this.#filled >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) {
      this.#start = this.#scanned = 3;
    }
  }

  /**
   * Reads the first record (the CSV header). Resolves with null for an empty
   * input. Call before {@linkcode ChunkReader.next}. With `consume: false`
   * it only looks: the record stays to be read as data.
   */
  async header(consume = true): Promise<HeaderBytes | null> {
    await this.#skipBom();
    for (;;) {
      const lf = this.#cutter.first(this.#buf, this.#scanned, this.#filled);
      if (lf !== -1) {
        const bytes = this.#buf.slice(this.#start, lf + 1);
        if (consume) this.#start = this.#scanned = lf + 1;
        else this.#scanned = this.#start; // a look only: the record is read again as data
        return { bytes, newlines: countByte(bytes, 10) };
      }
      this.#scanned = this.#filled;
      if (this.#eof) {
        const bytes = this.#buf.slice(this.#start, this.#filled);
        if (consume) this.#start = this.#filled;
        else this.#scanned = this.#start;
        return bytes.length ? { bytes, newlines: countByte(bytes, 10) } : null;
      }
      if (this.#filled === this.#buf.length) this.#renew(this.#buf.length * 2);
      await this.#fill(true);
      this.#stalled = false; // the header waits for its own end
    }
  }

  /** Resolves with the next chunk, or null when the input is exhausted. */
  async next(): Promise<Chunk | null> {
    await this.#skipBom();
    for (;;) {
      if (this.#filled - this.#start < this.#chunkBytes && !this.#eof && !this.#stalled) {
        if (this.#filled === this.#buf.length) {
          this.#renew(this.#filled - this.#start + this.#chunkBytes);
        }
        await this.#fill(true);
        continue;
      }
      const lf = this.#cutter.last(this.#buf, this.#scanned, this.#filled);
      this.#scanned = this.#filled;
      const stalled = this.#stalled;
      this.#stalled = false;
      if (lf !== -1 && lf >= this.#start) return this.#cut(lf + 1);
      if (this.#eof) {
        return this.#filled > this.#start ? this.#cut(this.#filled) : null;
      }
      // Stalled inside a record: wait for the rest of it.
      if (stalled && this.#filled < this.#buf.length) continue;
      // No boundary yet: a record longer than the buffer. Grow and read on.
      this.#renew(2 * this.#buf.length);
      await this.#fill();
    }
  }

  /** Hands out `buf[start, end)` and moves the bytes after `end` to a new buffer. */
  #cut(end: number): Chunk {
    const buffer = this.#buf.buffer as ArrayBuffer;
    const chunk = { buffer, start: this.#start, end, offset: this.#bufOffset + this.#start };
    this.#start = end;
    this.#renew(this.#chunkBytes + (this.#filled - end));
    return chunk;
  }

  /** Closes the input. */
  close(): void {
    this.#source.close();
  }
}

function countByte(bytes: Uint8Array, byte: number): number {
  let n = 0;
  for (let i = bytes.indexOf(byte); i !== -1; i = bytes.indexOf(byte, i + 1)) n++;
  return n;
}
