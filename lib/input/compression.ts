/**
 * Compressed inputs: telling gzip, zstd, bzip2 and xz from their first bytes,
 * and finding where zstd frames end without decompressing them.
 *
 * @module
 */

/** The compressions crunch reads (gzip, zstd) and those it only names (bzip2, xz). */
export type Compression = "gzip" | "zstd" | "bzip2" | "xz";

/** The compressions crunch decodes itself. */
export const DECODED: readonly Compression[] = ["gzip", "zstd"];

/** Extensions of compressed files, taken off a name to find the format inside. */
const EXTENSIONS: Record<string, Compression> = {
  ".gz": "gzip",
  ".gzip": "gzip",
  ".bgz": "gzip",
  ".zst": "zstd",
  ".zstd": "zstd",
  ".bz2": "bzip2",
  ".xz": "xz",
};

/** How many first bytes {@linkcode sniff} needs. */
export const SNIFF_BYTES = 6;

/** The compression whose magic bytes `head` starts with, if any. */
export function sniff(head: Uint8Array): Compression | undefined {
  const [a, b, c, d, e, f] = head;
  if (a === 0x1f && b === 0x8b) return "gzip";
  if (a === 0x28 && b === 0xb5 && c === 0x2f && d === 0xfd) return "zstd";
  if (a === 0x42 && b === 0x5a && c === 0x68) return "bzip2"; // "BZh"
  if (a === 0xfd && b === 0x37 && c === 0x7a && d === 0x58 && e === 0x5a && f === 0x00) {
    return "xz";
  }
  return undefined;
}

/** `name` without a compression extension (`reviews.csv.gz` gives `reviews.csv`). */
export function withoutCompression(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot !== -1 && EXTENSIONS[name.slice(dot).toLowerCase()] ? name.slice(0, dot) : name;
}

/** A piece of a zstd byte stream: bytes of one frame, and whether that frame ends with them. */
export interface FramePart {
  bytes: Uint8Array;
  /** The frame ends with these bytes. */
  ends: boolean;
  /** A skippable frame (metadata): not to be decoded. */
  skip: boolean;
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * Follows the frame structure of a zstd stream (RFC 8878) as its bytes come
 * in: frame headers, block headers and checksums, skipping block contents.
 * It tells where each frame ends, so that a decoder that stops after one
 * frame (node:zlib's does, silently) can be restarted at the next, and
 * whether the stream ends between frames (else it was truncated).
 */
export class ZstdFrames {
  /** What the next bytes are. */
  #state: "magic" | "header" | "block" | "content" | "checksum" | "skippable" = "magic";
  /** Bytes of a fixed-size field gathered so far (magic, headers, sizes). */
  #field: number[] = [];
  /** Bytes the current field or content still needs. */
  #need = 4;
  #skippable = false;
  #checksum = false;
  #lastBlock = false;
  /** Compressed bytes seen so far. */
  offset = 0;

  /** True when the bytes so far end exactly between frames. */
  get atBoundary(): boolean {
    return this.#state === "magic" && this.#field.length === 0;
  }

  /**
   * Splits `bytes` (the next bytes of the stream) into parts that each lie
   * in one frame.
   *
   * @throws {Error} when the bytes are not zstd frames.
   */
  split(bytes: Uint8Array): FramePart[] {
    const parts: FramePart[] = [];
    let start = 0;
    let at = 0;
    while (at < bytes.length) {
      if (this.#state === "content" || this.#state === "skippable") {
        const take = Math.min(this.#need, bytes.length - at);
        at += take;
        this.#need -= take;
        if (this.#need > 0) break;
        if (this.#state === "skippable") {
          this.#endFrame(parts, bytes, start, at);
          start = at;
        } else this.#afterBlock(parts, bytes, start, at, (next) => start = next);
        continue;
      }
      this.#field.push(bytes[at++]);
      if (this.#field.length < this.#need) continue;
      const field = this.#field;
      this.#field = [];
      start = this.#onField(field, parts, bytes, start, at);
    }
    if (start < bytes.length) {
      parts.push({ bytes: bytes.subarray(start), ends: false, skip: this.#skippable });
    }
    this.offset += bytes.length;
    return parts;
  }

  /** A whole field was read (ending at `at`); returns where the next part starts. */
  #onField(
    field: number[],
    parts: FramePart[],
    bytes: Uint8Array,
    start: number,
    at: number,
  ): number {
    switch (this.#state) {
      case "magic":
        this.#onMagic(field, at);
        return start;
      case "header":
        if (this.#skippable) {
          this.#need = (field[0] | field[1] << 8 | field[2] << 16 | field[3] << 24) >>> 0;
          this.#state = "skippable";
          if (this.#need > 0) return start;
          this.#endFrame(parts, bytes, start, at);
          return at;
        }
        this.#onHeader(field);
        return start;
      case "block": {
        const header = field[0] | field[1] << 8 | field[2] << 16;
        this.#lastBlock = (header & 1) === 1;
        const type = (header >> 1) & 3;
        const size = header >>> 3;
        if (type === 3) throw new Error("a zstd block has the reserved type");
        this.#need = type === 1 ? 1 : size;
        this.#state = "content";
        let next = start;
        if (this.#need === 0) this.#afterBlock(parts, bytes, start, at, (n) => next = n);
        return next;
      }
      case "checksum":
        this.#endFrame(parts, bytes, start, at);
        return at;
    }
    return start;
  }

  #onMagic(field: number[], at: number): void {
    const magic = (field[0] | field[1] << 8 | field[2] << 16 | field[3] << 24) >>> 0;
    if (magic === ZSTD_MAGIC) {
      this.#skippable = false;
      this.#state = "header";
      this.#need = 1;
    } else if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) {
      this.#skippable = true;
      this.#state = "header";
      this.#need = 4;
    } else {
      throw new Error(
        `no zstd frame starts at byte ${this.offset + at - 4} (magic 0x${magic.toString(16)})`,
      );
    }
  }

  /** A frame header's descriptor (then the whole header, once its length is known). */
  #onHeader(field: number[]): void {
    if (field.length === 1) {
      // The descriptor says how long the rest of the header is.
      const descriptor = field[0];
      const fcsFlag = descriptor >> 6;
      const single = (descriptor >> 5) & 1;
      if (descriptor & 0x08) throw new Error("a zstd frame header has its reserved bit set");
      this.#checksum = ((descriptor >> 2) & 1) === 1;
      const dictionary = [0, 1, 2, 4][descriptor & 3];
      const contentSize = [single ? 1 : 0, 2, 4, 8][fcsFlag];
      const rest = (single ? 0 : 1) + dictionary + contentSize;
      this.#lastBlock = false;
      if (rest > 0) {
        this.#field = field; // keep the descriptor: the header is complete at 1 + rest
        this.#need = 1 + rest;
        return;
      }
    }
    this.#state = "block";
    this.#need = 3;
  }

  #afterBlock(
    parts: FramePart[],
    bytes: Uint8Array,
    start: number,
    at: number,
    moved: (next: number) => void,
  ): void {
    if (!this.#lastBlock) {
      this.#state = "block";
      this.#need = 3;
    } else if (this.#checksum) {
      this.#state = "checksum";
      this.#need = 4;
    } else {
      this.#endFrame(parts, bytes, start, at);
      moved(at);
    }
  }

  #endFrame(parts: FramePart[], bytes: Uint8Array, start: number, at: number): void {
    parts.push({ bytes: bytes.subarray(start, at), ends: true, skip: this.#skippable });
    this.#state = "magic";
    this.#need = 4;
    this.#field = [];
  }
}
