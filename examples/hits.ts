/**
 * The smallest useful classifier (the README's "In 15 lines"): `init`
 * builds a set of words once per worker, `classify` counts a review's words
 * that are in it and yields nothing for a review without any.
 *
 * @module
 */

let positive = new Set<string>();

/** Builds the set of words once in this worker. */
export function init(spec: { words: string[] }): void {
  positive = new Set(spec.words); // the big read-only structure
}

/** The review's id and how many of its words are in the set; undefined for none. */
export function classify(
  row: { id: string; text: string },
): { id: string; hits: number } | undefined {
  const hits = row.text.split(" ").filter((w) => positive.has(w)).length;
  return hits > 0 ? { id: row.id, hits } : undefined; // undefined: no result
}
