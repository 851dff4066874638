/**
 * A read-only string-keyed table that lives in one `SharedArrayBuffer`, so
 * every worker reads the same memory instead of building its own `Map`.
 *
 * Layout (all little-endian, in one buffer):
 * - header: 8 × Uint32 (magic, version, size, capacity, text length, rows);
 * - slots: `capacity` × Uint32, open addressing, entry number + 1 (0 = empty);
 * - entries: `rows` × 4 × Uint32: key start, key length, value start or
 *   kind, value length (rows ≥ size when keys were repeated);
 * - numbers: `rows` × Float64;
 * - text: keys and string values as UTF-16 code units.
 *
 * Keys are hashed and compared as UTF-16 code units straight from the JS
 * string, so a lookup encodes nothing and allocates nothing;
 * {@linkcode SharedTable.getRange} looks up a slice of a longer string
 * without making the slice.
 *
 * @module
 */

const MAGIC = 0x43524e54; // "CRNT"
const VERSION = 1;
const HEADER = 8;
const NUMBER = 0xffffffff;

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

function align8(n: number): number {
  return (n + 7) & ~7;
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
 *
 * const table = SharedTable.from([["good", 1.5], ["bad", -2], ["label", "x"]]);
 * const inWorker = SharedTable.open(table.buffer); // what a worker does with the buffer
 * console.log(inWorker.get("good"), inWorker.get("label"), inWorker.has("ugly")); // 1.5 x false
 * ```
 */
export class SharedTable {
  /** The memory of the table: send this to workers. */
  readonly buffer: SharedArrayBuffer;
  readonly #slots: Uint32Array;
  readonly #entries: Uint32Array;
  readonly #numbers: Float64Array;
  readonly #text: Uint16Array;
  readonly #mask: number;
  /** Number of entries. */
  readonly size: number;

  private constructor(buffer: SharedArrayBuffer) {
    const header = new Uint32Array(buffer, 0, HEADER);
    if (header[0] !== MAGIC || header[1] !== VERSION) {
      throw new TypeError("not a SharedTable buffer (wrong magic number or version)");
    }
    const size = header[2];
    const capacity = header[3];
    const textLength = header[4];
    const rows = header[5]; // entries allocated (duplicates leave some unused)
    let at = HEADER * 4;
    this.#slots = new Uint32Array(buffer, at, capacity);
    at += capacity * 4;
    this.#entries = new Uint32Array(buffer, at, rows * 4);
    at = align8(at + rows * 16);
    this.#numbers = new Float64Array(buffer, at, rows);
    at += rows * 8;
    this.#text = new Uint16Array(buffer, at, textLength);
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
   * const table = SharedTable.from(new Map([["a", 1], ["b", 2]]));
   * console.log(table.size); // 2
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
    while (capacity < count * 2) capacity *= 2;
    const numbersAt = align8(HEADER * 4 + capacity * 4 + count * 16);
    const textAt = numbersAt + count * 8;
    const buffer = new SharedArrayBuffer(textAt + textLength * 2);
    const slots = new Uint32Array(buffer, HEADER * 4, capacity);
    const rows = new Uint32Array(buffer, HEADER * 4 + capacity * 4, count * 4);
    const numbers = new Float64Array(buffer, numbersAt, count);
    const text = new Uint16Array(buffer, textAt, textLength);
    let cursor = 0;
    const put = (s: string) => {
      const start = cursor;
      for (let i = 0; i < s.length; i++) text[cursor++] = s.charCodeAt(i);
      return start;
    };
    const setValue = (n: number, value: TableValue) => {
      if (typeof value === "number") {
        rows[n * 4 + 2] = NUMBER;
        numbers[n] = value;
      } else {
        rows[n * 4 + 2] = put(value);
        rows[n * 4 + 3] = value.length;
      }
    };
    const mask = capacity - 1;
    let size = 0;
    for (let k = 0; k < count; k++) {
      const key = keys[k];
      let slot = hashRange(key, 0, key.length) & mask;
      let found = -1;
      for (let n = slots[slot] - 1; n >= 0; n = slots[slot] - 1) {
        if (rows[n * 4 + 1] === key.length) {
          const at = rows[n * 4];
          let i = 0;
          while (i < key.length && text[at + i] === key.charCodeAt(i)) i++;
          if (i === key.length) {
            found = n;
            break;
          }
        }
        slot = (slot + 1) & mask;
      }
      if (found >= 0) {
        setValue(found, values[k]); // a later pair replaces an earlier one
        continue;
      }
      rows[size * 4] = put(key);
      rows[size * 4 + 1] = key.length;
      setValue(size, values[k]);
      slots[slot] = size + 1;
      size++;
    }
    new Uint32Array(buffer, 0, HEADER).set([MAGIC, VERSION, size, capacity, textLength, count]);
    return new SharedTable(buffer);
  }

  /**
   * Builds a table from a text file of `key<TAB>value` lines; values that
   * read as numbers are stored as numbers.
   *
   * @example
   * ```ts ignore
   * import { SharedTable } from "@crunch/crunch";
   * const lexicon = await SharedTable.fromFile("lexicon.tsv");
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
   * const buffer = SharedTable.from([["k", 1]]).buffer;
   * console.log(SharedTable.open(buffer).get("k")); // 1
   * ```
   */
  static open(buffer: SharedArrayBuffer): SharedTable {
    return new SharedTable(buffer);
  }

  /** Entry number of `text[start, end)`, or -1. */
  #find(text: string, start: number, end: number): number {
    const length = end - start;
    const slots = this.#slots;
    const rows = this.#entries;
    const chars = this.#text;
    let slot = hashRange(text, start, end) & this.#mask;
    for (;;) {
      const n = slots[slot] - 1;
      if (n < 0) return -1;
      if (rows[n * 4 + 1] === length) {
        const at = rows[n * 4];
        let i = 0;
        while (i < length && chars[at + i] === text.charCodeAt(start + i)) i++;
        if (i === length) return n;
      }
      slot = (slot + 1) & this.#mask;
    }
  }

  #value(n: number): TableValue {
    const kind = this.#entries[n * 4 + 2];
    if (kind === NUMBER) return this.#numbers[n];
    const length = this.#entries[n * 4 + 3];
    let out = "";
    for (let i = 0; i < length; i += 4096) {
      out += String.fromCharCode(
        ...this.#text.subarray(kind + i, kind + Math.min(length, i + 4096)),
      );
    }
    return out;
  }

  /**
   * The value of `key`, or undefined.
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * console.log(SharedTable.from([["a", 1]]).get("a")); // 1
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
   * const t = SharedTable.from([["good", 2]]);
   * console.log(t.getRange("a good day", 2, 6)); // 2
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
   * console.log(SharedTable.from([["a", 1]]).has("b")); // false
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
   * for (const [k, v] of SharedTable.from([["a", 1]])) console.log(k, v);
   * ```
   */
  *entries(): IterableIterator<[string, TableValue]> {
    for (let n = 0; n < this.size; n++) {
      const at = this.#entries[n * 4];
      const length = this.#entries[n * 4 + 1];
      yield [String.fromCharCode(...this.#text.subarray(at, at + length)), this.#value(n)];
    }
  }

  /**
   * Every key, in insertion order.
   *
   * @example
   * ```ts
   * import { SharedTable } from "@crunch/crunch";
   * console.log([...SharedTable.from([["a", 1]]).keys()]); // ["a"]
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
