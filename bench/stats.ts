/**
 * Summaries of repeated measurements: the median with the smallest and
 * largest value, which is how the bench reports every figure.
 *
 * @module
 */

/** The median of several repetitions, with their minimum and maximum. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** How many repetitions. */
  n: number;
}

/** The spread of `values` (at least one). */
export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { median, min: sorted[0], max: sorted[n - 1], n };
}

/** `median [min-max]` with `digits` decimals. */
export function showSpread(s: Spread | undefined, digits = 2): string {
  if (s === undefined) return "";
  const f = (x: number) =>
    x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return `${f(s.median)} [${f(s.min)}-${f(s.max)}]`;
}

/** `s` with every figure multiplied by `k`. */
export function scale(s: Spread, k: number): Spread {
  return { median: s.median * k, min: s.min * k, max: s.max * k, n: s.n };
}
