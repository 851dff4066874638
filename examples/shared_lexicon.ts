/**
 * The lexicon classifier with its lexicon built once, in one worker, in
 * a {@linkcode SharedTable} that every worker reads in place: one copy in
 * memory whatever the number of workers, and no per-worker build time.
 *
 * `classify` looks words up straight in the review's text with
 * `getRange`, so it allocates no string per word either.
 *
 * Run it: `deno task example --shared`
 *
 * @module
 */

import { SharedTable } from "../mod.ts";
import { lexiconEntries, type LexiconSpec } from "./lexicon.ts";

/** Called once per run, in one worker: the result reaches every worker's init as context.shared. */
export function prepare(spec: LexiconSpec = {}): SharedArrayBuffer {
  return SharedTable.from(lexiconEntries(spec)).buffer;
}

let lexicon: SharedTable;

/** Opens the shared lexicon (no copy). */
export function init(_spec: LexiconSpec, context: { shared: SharedArrayBuffer }): void {
  lexicon = SharedTable.open(context.shared);
}

/** Scores one review: the sum of its words' weights. */
export function classify(row: { id: string; text: string }): { id: string; score: number } {
  const text = row.text;
  let score = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i === text.length || text.charCodeAt(i) === 32) {
      if (i > start) score += (lexicon.getRange(text, start, i) as number | undefined) ?? 0;
      start = i + 1;
    }
  }
  return { id: row.id, score: Math.round(score * 100) / 100 };
}
