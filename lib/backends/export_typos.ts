/**
 * Exports of a plug-in that look like a misspelt part of the contract:
 * `export function intit(spec)` is never called, and without a word the run
 * goes on as if the plug-in had no `init`. An export one edit (or one swap
 * of neighbours) away from a contract name the plug-in does not export is
 * named, with the name meant.
 *
 * @module
 */

import { distance } from "../checks.ts";

/** The functions crunch calls on a plug-in. */
const CONTRACT = ["init", "classify", "classifyBatch", "prepare", "close"];

/** True when `a` becomes `b` by swapping two neighbouring letters. */
function swapped(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const at = [...a].flatMap((c, k) => c === b[k] ? [] : [k]);
  return at.length === 2 && at[1] === at[0] + 1 && a[at[0]] === b[at[1]] && a[at[1]] === b[at[0]];
}

/** The contract name `name` looks like a typo of, among those not exported. */
export function meant(name: string, exports: readonly string[]): string | undefined {
  if (CONTRACT.includes(name)) return undefined;
  return CONTRACT.find((word) =>
    !exports.includes(word) && (distance(name, word) <= 1 || swapped(name, word))
  );
}

/**
 * One warning for each export of `exports` that looks like a misspelt
 * contract name: "exports intit, which crunch never calls: did you mean init?".
 *
 * @example
 * ```ts
 * import { exportTypos } from "./export_typos.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(exportTypos(["classify", "intit"]), [
 *   "exports intit, which crunch never calls: did you mean init?",
 * ]);
 * assert.deepEqual(exportTypos(["init", "classify", "inits"]), []); // init is there
 * ```
 */
export function exportTypos(exports: readonly string[]): string[] {
  return exports.flatMap((name) => {
    const word = meant(name, exports);
    return word ? [`exports ${name}, which crunch never calls: did you mean ${word}?`] : [];
  });
}
