/**
 * A backend's piece of results as the release takes it: results parsed
 * from their JSON text where they came as text, and their size known.
 *
 * @module
 */

import type { ResultsPiece } from "../wire/task.ts";
import type { Piece } from "./release.ts";

/** The release's piece of a backend's: results parsed, their size known. */
export function internal(piece: ResultsPiece): Piece {
  const results = piece.json === undefined ? piece.results : JSON.parse(piece.json);
  return {
    seq: piece.id,
    records: piece.records,
    results,
    offsets: piece.offsets,
    lines: piece.lines,
    failures: piece.failures,
    encoded: piece.encoded,
    bytes: sizeOf(piece, results),
    ...(piece.invalid ? { invalid: piece.invalid } : {}),
    ...(piece.part ? { part: piece.part } : {}),
  };
}

/** About how many bytes a piece's results take: their text where it is at hand. */
function sizeOf(piece: ResultsPiece, results: unknown[]): number {
  if (piece.json !== undefined) return piece.json.length;
  const { encoded } = piece;
  if (encoded?.bytes) return encoded.bytes.byteLength;
  if (encoded?.texts) return encoded.texts.reduce((n, t) => n + t.length, 0);
  let n = 0;
  for (const r of results) if (typeof r === "string") n += r.length;
  return n;
}
