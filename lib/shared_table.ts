/**
 * A read-only string-keyed table that lives in one `SharedArrayBuffer`, so
 * every worker reads the same memory instead of building its own `Map`.
 *
 * Layout (all little-endian, in one buffer):
 * - header: 8 × Uint32 (magic, version, size, capacity, text length, order
 *   length, 0, 0);
 * - slots: `capacity` × 16 bytes, open addressing with linear probing: the
 *   key's record position + 1 (0 = empty), the key's 32-bit hash, and a
 *   Float64 holding a number value or the position of a string value;
 * - order: one Uint32 per key given (`size` used), the slot of each entry in
 *   insertion order;
 * - text: UTF-16 code units; a key's record is its length (two code units),
 *   its kind (0 = number value, 1 = string value) and its code units; a string
 *   value's record is its length (two code units) and its code units.
 *
 * A lookup that finds its key touches one slot (the hash filters out other
 * keys without reading them) and one key record: two cache misses in a table
 * larger than the cache.
 *
 * Keys are hashed and compared as UTF-16 code units straight from the JS
 * string, so a lookup encodes nothing and allocates nothing;
 * {@linkcode SharedTable.getRange} looks up a slice of a longer string
 * without making the slice.
 *
 * @module
 */

const MAGIC = 0x43524e54; // "CRNT"
const VERSION = 2;
const HEADER = 8;
/** Code units before a key's text in its record: length (2) and kind (1). */
const KEY_HEAD = 3;
/** Where a key's kind sits in its record. */
const KIND = 2;
/** Code units before a string value's text in its record: length (2). */
const VALUE_HEAD = 2;
const NUMBER = 0;
const STRING = 1;

/** A value the table holds. */
export type TableValue = number | string;

function hashRange(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The slot that holds the key `key[start, end)` (whose hash is `hash`), or
 * else the empty slot where probing for it stopped.
 */
function probe(
  slots: Uint32Array,
  chars: Uint16Array,
  mask: number,
  hash: number,
  key: string,
  start: number,
  end: number,
): number {
  let slot = hash & mask;
  for (; slots[slot * 4] !== 0; slot = (slot + 1) & mask) {
    if (slots[slot * 4 + 1] === hash && sameKey(chars, slots[slot * 4] - 1, key, start, end)) break;
  }
  return slot;
}

/** True when the key record at `record` holds the code units `key[start, end)`. */
function sameKey(chars: Uint16Array, record: number, key: string, start: number, end: number) {
  const length = end - start;
  if (chars[record] !== (length & 0xffff) || chars[record + 1] !== length >>> 16) return false;
  const at = record + KEY_HEAD - start;
  for (let i = start; i < end; i++) if (chars[at + i] !== key.charCodeAt(i)) return false;
  return true;
}

/**
 * A read-only hash table from strings to numbers or strings in one
 * `SharedArrayBuffer`. Build it on the main thread, pass its `buffer` to the
 * workers (for example from a plug-in's `prepare`), and open it there: the
 * workers share the memory, nothing is copied.
 *
 * @example
 * ```ts
 * import { SharedTable } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 *
 * const table = SharedTable.from([["good", 1.5], ["bad", -2], ["label", "x"]]);
 * const inWorker = SharedTable.open(table.buffer); // what a worker does with the buffer
 * assert.deepEqual([inWorker.get("good"), inWorker.get("label"), inWorker.has("ugly")], [1.5, "x", false]);
 * ```
 */
export class SharedTable {
  /** The memory of the table: send this to workers. */
  readonly buffer: SharedArrayBuffer;
  /** Per slot: key record position + 1 (0 = empty), hash, then the Float64 value. */
  readonly #slots: Uint32Array;
  readonly #values: Float64Array;
  readonly #order: Uint32Array;
  readonly #text: Uint16Array;
  readonly #mask: number;
  /** Number of entries. */
  readonly size: number;

  private constructor(buffer: SharedArrayBuffer) {
    const header = new Uint32Array(buffer, 0, HEADER);
    if (header[0] !== MAGIC || header[1] !== VERSION) {
      throw new TypeError("not a SharedTable buffer (wrong magic number or version)");
    }
    const [, , size, capacity, textLength, rows] = header;
    const at = HEADER * 4;
    this.#slots = new Uint32Array(buffer, at, capacity * 4);
    this.#values = new Float64Array(buffer, at, capacity * 2);
    this.#order = new Uint32Array(buffer, at + capacity * 16, rows);
    this.#text = new Uint16Array(buffer, at + capacity * 16 + rows * 4, textLength);
    this.buffer = buffer;
    this.size = size;
    this.#mask = capacity - 1;
  }

  /**
   * Builds a table from `[key, value]` pairs; a later pair replaces an
   * earlier one with the same key.
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * const table = SharedTable.from(new Map([["a", 1], ["b", 2]]));
   * assert.equal(table.size, 2);
   * ```
   */
  static from(entries: Iterable<readonly [string, TableValue]>): SharedTable {
    // No intermediate Map: keys and values go to two arrays, duplicates are found while hashing.
    const keys: string[] = [];
    const values: TableValue[] = [];
    let textLength = 0;
    for (const [key, value] of entries) {
      if (typeof key !== "string") {
        throw new TypeError(`table keys must be strings, got ${typeof key}`);
      }
      if (typeof value !== "number" && typeof value !== "string") {
        throw new TypeError(
          `table values must be numbers or strings; ${JSON.stringify(key)} has a ${typeof value}`,
        );
      }
      keys.push(key);
      values.push(value);
      textLength += key.length + (typeof value === "string" ? value.length : 0);
    }
    const count = keys.length;
    let capacity = 8;
    while (capacity * 0.75 < count) capacity *= 2;
    const textAt = HEADER * 4 + capacity * 16 + count * 4;
    const buffer = new SharedArrayBuffer(
      textAt + (textLength + count * (KEY_HEAD + VALUE_HEAD)) * 2,
    );
    const slots = new Uint32Array(buffer, HEADER * 4, capacity * 4);
    const numbers = new Float64Array(buffer, HEADER * 4, capacity * 2);
    const order = new Uint32Array(buffer, HEADER * 4 + capacity * 16, count);
    const text = new Uint16Array(buffer, textAt);
    let cursor = 0;
    /** Writes a record of `s` with `head` code units before its text (its length first). */
    const put = (s: string, head: number) => {
      text[cursor] = s.length & 0xffff;
      text[cursor + 1] = s.length >>> 16;
      cursor += head;
      for (let i = 0; i < s.length; i++) text[cursor++] = s.charCodeAt(i);
    };
    const setValue = (slot: number, record: number, value: TableValue) => {
      if (typeof value === "number") {
        text[record + KIND] = NUMBER;
        numbers[slot * 2 + 1] = value;
      } else {
        text[record + KIND] = STRING;
        numbers[slot * 2 + 1] = cursor;
        put(value, VALUE_HEAD);
      }
    };
    const mask = capacity - 1;
    let size = 0;
    for (let k = 0; k < count; k++) {
      const key = keys[k];
      const hash = hashRange(key, 0, key.length);
      const slot = probe(slots, text, mask, hash, key, 0, key.length);
      const record = slots[slot * 4] - 1;
      if (record >= 0) {
        setValue(slot, record, values[k]); // a later pair replaces an earlier one
        continue;
      }
      const at = cursor;
      put(key, KEY_HEAD); // its kind is set by setValue
      slots[slot * 4] = at + 1;
      slots[slot * 4 + 1] = hash;
      setValue(slot, at, values[k]);
      order[size++] = slot;
    }
    new Uint32Array(buffer, 0, HEADER).set([MAGIC, VERSION, size, capacity, cursor, count]);
    return new SharedTable(buffer);
  }

  /**
   * Builds a table from a text file of `key<TAB>value` lines; values that
   * read as numbers are stored as numbers.
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * const lexicon = await SharedTable.fromFile("examples/words.tsv"); // good<TAB>1.5 ...
   * assert.equal(lexicon.get("good"), 1.5);
   * ```
   */
  static async fromFile(path: string): Promise<SharedTable> {
    const text = await Deno.readTextFile(path);
    const entries: [string, TableValue][] = [];
    let line = 0;
    for (const raw of text.split("\n")) {
      line++;
      const row = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (row === "") continue;
      const tab = row.indexOf("\t");
      if (tab === -1) throw new SyntaxError(`${path}, line ${line}: expected key<TAB>value`);
      const value = row.slice(tab + 1);
      const number = value.trim() === "" ? NaN : Number(value);
      entries.push([row.slice(0, tab), Number.isNaN(number) ? value : number]);
    }
    return SharedTable.from(entries);
  }

  /**
   * Opens a table from its buffer, without copying (what a worker does).
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * const buffer = SharedTable.from([["k", 1]]).buffer;
   * assert.equal(SharedTable.open(buffer).get("k"), 1);
   * ```
   */
  static open(buffer: SharedArrayBuffer): SharedTable {
    return new SharedTable(buffer);
  }

  /** Slot of the key `text[start, end)`, or -1. */
  #find(text: string, start: number, end: number): number {
    const slots = this.#slots;
    const slot = probe(
      slots,
      this.#text,
      this.#mask,
      hashRange(text, start, end),
      text,
      start,
      end,
    );
    return slots[slot * 4] === 0 ? -1 : slot;
  }

  #value(slot: number): TableValue {
    const value = this.#values[slot * 2 + 1];
    if (this.#text[this.#slots[slot * 4] - 1 + KIND] === NUMBER) return value;
    return this.#string(value, VALUE_HEAD);
  }

  /** The string of the record at `at`, its code units `head` after the record's start. */
  #string(at: number, head: number): string {
    const chars = this.#text;
    const length = chars[at] + chars[at + 1] * 0x10000;
    const start = at + head;
    let out = "";
    for (let i = 0; i < length; i += 4096) {
      out += String.fromCharCode(...chars.subarray(start + i, start + Math.min(length, i + 4096)));
    }
    return out;
  }

  /**
   * The value of `key`, or undefined.
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * assert.equal(SharedTable.from([["a", 1]]).get("a"), 1);
   * ```
   */
  get(key: string): TableValue | undefined {
    const n = this.#find(key, 0, key.length);
    return n < 0 ? undefined : this.#value(n);
  }

  /**
   * The value of the key `text.slice(start, end)`, without making that slice:
   * scan a text and look its words up with no allocation at all.
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * const t = SharedTable.from([["good", 2]]);
   * assert.equal(t.getRange("a good day", 2, 6), 2);
   * ```
   */
  getRange(text: string, start: number, end: number): TableValue | undefined {
    const n = this.#find(text, start, end);
    return n < 0 ? undefined : this.#value(n);
  }

  /**
   * True when the table holds `key`.
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * assert.equal(SharedTable.from([["a", 1]]).has("b"), false);
   * ```
   */
  has(key: string): boolean {
    return this.#find(key, 0, key.length) >= 0;
  }

  /**
   * Every `[key, value]` pair, in insertion order.
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * assert.deepEqual([...SharedTable.from([["a", 1]])], [["a", 1]]);
   * ```
   */
  *entries(): IterableIterator<[string, TableValue]> {
    for (let n = 0; n < this.size; n++) {
      const slot = this.#order[n];
      yield [this.#string(this.#slots[slot * 4] - 1, KEY_HEAD), this.#value(slot)];
    }
  }

  /**
   * Every key, in insertion order.
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * assert.deepEqual([...SharedTable.from([["a", 1]]).keys()], ["a"]);
   * ```
   */
  *keys(): IterableIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  /** Same as {@linkcode SharedTable.entries}. */
  [Symbol.iterator](): IterableIterator<[string, TableValue]> {
    return this.entries();
  }
}
