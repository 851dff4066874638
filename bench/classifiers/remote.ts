/**
 * A model behind a server: every call costs spec.ms of waiting (2 ms by
 * default), whether it carries one row or a batch, plus the scoring itself.
 * `classify` makes one call a row; `classifyBatch` (see remote_batch.ts)
 * one call a batch.
 */
let ms = 2;

export function init(spec: { ms?: number }): void {
  ms = spec?.ms ?? 2;
}

/** The score of one row (a hash of its id, standing in for the model's output). */
export function score(row: { id: string }): number {
  let h = 0;
  for (let i = 0; i < row.id.length; i++) h = (h * 31 + row.id.charCodeAt(i)) | 0;
  return (h >>> 0) % 1000 / 1000;
}

/** One request to the server. */
export function call(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function classify(row: { id: string }): Promise<{ id: string; score: number }> {
  await call();
  return { id: row.id, score: score(row) };
}
