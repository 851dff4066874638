/**
 * Deterministic pseudo-words and a seeded random generator, shared by the
 * lexicon example, its data generator and the benchmarks.
 *
 * @module
 */

/** A small fast seeded PRNG (mulberry32); returns floats in [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LETTERS = "etaoinshrdlcumwfgypbvkjxqz";

/** The `n`th pseudo-word: 3 to 8 letters, distinct for distinct `n`. */
export function word(n: number): string {
  let out = "";
  let x = n + 26 * 26;
  while (x > 0) {
    out += LETTERS[x % 26];
    x = Math.floor(x / 26);
  }
  return out;
}
