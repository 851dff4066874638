/**
 * A stand-in for a costly model: spends `spec.us` microseconds of CPU on
 * each record and returns its id and the length of its text. README's
 * resume example runs it.
 *
 * @module
 */

let us = 10;

/** Takes the time each record costs from the spec. */
export function init(spec: { us?: number }): void {
  us = spec.us ?? us;
}

/** The record's id and text length, after `us` microseconds of work. */
export function classify(row: { id: string; text: string }): { id: string; length: number } {
  const end = performance.now() + us / 1000;
  while (performance.now() < end) {
    // the model's work
  }
  return { id: row.id, length: row.text.length };
}
