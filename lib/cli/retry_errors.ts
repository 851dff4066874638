/**
 * `--retry-errors FILE`: the records an errors file lists (after a
 * classifier bug is fixed, say), by index. The run over them is the
 * engine's own (`lib/input/selected.ts`), so every result and error keeps
 * its record's index and line.
 *
 * @module
 */

import { CrunchError } from "../errors.ts";

/** The record indexes the errors file at `path` lists. */
export async function listedRecords(path: string): Promise<Set<number>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new CrunchError(`cannot read --retry-errors ${path}: ${(error as Error).message}`);
  }
  const indexes = new Set<number>();
  text.split("\n").forEach((line, k) => {
    if (line.trim() === "") return;
    let entry: { index?: unknown };
    try {
      entry = JSON.parse(line);
    } catch {
      throw new CrunchError(`${path}, line ${k + 1}: not an errors file line (not JSON)`);
    }
    if (!Number.isSafeInteger(entry.index)) {
      throw new CrunchError(`${path}, line ${k + 1}: no record index in this line`);
    }
    indexes.add(entry.index as number);
  });
  return indexes;
}
