/** The model of remote.ts, called once per batch of rows. */
import { call, score } from "./remote.ts";
export { init } from "./remote.ts";

export async function classifyBatch(
  rows: { id: string }[],
): Promise<{ id: string; score: number }[]> {
  await call();
  return rows.map((row) => ({ id: row.id, score: score(row) }));
}
