/**
 * A classifier with a bug, for README's retry example: it throws on every
 * thousandth review until `spec.fixed` says the bug is fixed.
 *
 * @module
 */

let fixed = false;

/** Whether the bug is fixed. */
export function init(spec: { fixed?: boolean }): void {
  fixed = spec?.fixed ?? false;
}

/** The review's id and the number of its words. */
export function classify(row: { id: string; text: string }): { id: string; words: number } {
  if (!fixed && Number(row.id) % 1000 === 999) throw new Error(`the bug, on review ${row.id}`);
  return { id: row.id, words: row.text.split(" ").length };
}
