/**
 * The results of a run that are ready for the consumer: a queue of arrays,
 * handed out one value at a time or one array at a time.
 *
 * @module
 */

const EMPTY: unknown[] = [];

/** Released results (or encoded byte pieces), in the order they are to be yielded. */
export class Outbox {
  #queue: unknown[][] = [];
  /** The size of each queued array, in the units of {@linkcode Outbox.bytes}. */
  #sizes: number[] = [];
  #head: unknown[] = EMPTY;
  #at = 0;
  #bytes = 0;
  /** Values pushed and values taken so far, and the marks between them. */
  #pushed = 0;
  #taken = 0;
  #marks: { at: number; state: unknown }[] = [];

  /** Appends an array of results (kept as it is, not copied) of about `bytes` bytes. */
  push(values: unknown[], bytes = 0): void {
    if (values.length === 0) return;
    this.#pushed += values.length;
    this.#queue.push(values);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
  }

  /** About how many bytes of results wait in the queue. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True when a value can be taken at once. */
  get ready(): boolean {
    return this.#at < this.#head.length || this.#queue.length > 0;
  }

  /** True when a value can be taken without moving to the next array. */
  get headReady(): boolean {
    return this.#at < this.#head.length;
  }

  /** The next value, or the rest of the array it is in (`batch`); undefined when empty. */
  take(batch: boolean): { value: unknown } | undefined {
    while (this.#at >= this.#head.length) {
      const next = this.#queue.shift();
      this.#bytes -= this.#sizes.shift() ?? 0;
      if (next === undefined) {
        this.#head = EMPTY;
        this.#at = 0;
        return undefined;
      }
      this.#head = next;
      this.#at = 0;
    }
    if (!batch) {
      this.#taken++;
      return { value: this.#head[this.#at++] };
    }
    // The whole array when nothing of it was taken yet.
    const rest = this.#at === 0 ? this.#head : this.#head.slice(this.#at);
    this.#taken += rest.length;
    this.#head = EMPTY;
    this.#at = 0;
    return { value: rest };
  }

  /** Marks the place after everything pushed so far with `state` (a resumable point). */
  mark(state: unknown): void {
    this.#marks.push({ at: this.#pushed, state });
  }

  /**
   * The state of the last mark before the consumer's last `behind` values
   * (every value before it taken), once; undefined when no new mark was
   * passed. A consumer that asks with 1 before it handles each value it took
   * (and with 0 after) meets each mark with exactly the values before it
   * handled: a mark placed where the consumer already stood (a task whose
   * last piece had no results) is met before the next value is handled.
   */
  passed(behind = 0): unknown {
    let state: unknown;
    while (this.#marks.length && this.#marks[0].at <= this.#taken - behind) {
      state = this.#marks.shift()!.state;
    }
    return state;
  }

  /** Drops everything. */
  clear(): void {
    this.#marks = [];
    this.#queue = [];
    this.#sizes = [];
    this.#bytes = 0;
    this.#head = EMPTY;
    this.#at = 0;
  }
}
