/**
 * Numbers as messages show them: thousands separated, and a noun in the
 * singular for one ("1 worker", "2 workers", "1,000 records").
 *
 * @module
 */

/**
 * `n` rounded, with thousands separators.
 *
 * @example
 * ```ts
 * import { thousands } from "./numbers.ts";
 * import assert from "node:assert/strict";
 * assert.equal(thousands(1234567.4), "1,234,567");
 * ```
 */
export function thousands(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/**
 * `n` and `noun`, in the plural unless n is 1.
 *
 * @example
 * ```ts
 * import { count } from "./numbers.ts";
 * import assert from "node:assert/strict";
 * assert.equal(count(1, "worker"), "1 worker");
 * assert.equal(count(1000, "record"), "1,000 records");
 * ```
 */
export function count(n: number, noun: string): string {
  return `${thousands(n)} ${Math.round(n) === 1 ? noun : noun + "s"}`;
}
