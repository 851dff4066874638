/**
 * A lexicon classifier: `init` builds a map of a few hundred thousand words
 * to weights (the large read-only structure), `classify` sums the weights of
 * the words in a review's text.
 *
 * Run it with `deno task example`, or from the command line:
 * `deno run -A examples/run_lexicon.ts`.
 *
 * @module
 */

import { random, word } from "./words.ts";

/** What the example's `init` accepts as its spec. */
export interface LexiconSpec {
  /** Words in the lexicon (default 300,000). */
  entries?: number;
  /** Seed for the weights (default 1). */
  seed?: number;
}

let lexicon = new Map<string, number>();

/** The lexicon's entries for `spec`: word `i` gets a weight between -2 and 2. */
export function* lexiconEntries(spec: LexiconSpec = {}): Generator<[string, number]> {
  const entries = spec.entries ?? 300_000;
  const next = random(spec.seed ?? 1);
  for (let i = 0; i < entries; i++) yield [word(i), Math.round((next() * 4 - 2) * 100) / 100];
}

/** The lexicon for `spec` as a Map. */
export function buildLexicon(spec: LexiconSpec = {}): Map<string, number> {
  return new Map(lexiconEntries(spec));
}

/** Builds the lexicon once in this worker. */
export function init(spec: LexiconSpec = {}): void {
  lexicon = buildLexicon(spec);
}

/** Scores one review: the sum of its words' weights. */
export function classify(row: { id: string; text: string }): { id: string; score: number } {
  let score = 0;
  for (const w of row.text.split(" ")) score += lexicon.get(w) ?? 0;
  return { id: row.id, score: Math.round(score * 100) / 100 };
}
