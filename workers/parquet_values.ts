/**
 * Rows from Parquet's columns, as a plug-in gets them: one object literal a
 * row from code generated for the columns (one hidden class, as for CSV),
 * and 64-bit integers as a `number` when exact (within ±2^53 - 1), a
 * `bigint` otherwise, in lists and structs too.
 *
 * @module
 */

/** A column's values for rows `[from, to)`, from the pieces hyparquet gave. */
export interface ColumnPiece {
  columnData: ArrayLike<unknown>;
  rowStart: number;
  rowEnd: number;
}

/** `value` with every exact bigint in it made a number (arrays and plain objects changed in place). */
export function safeInteger(value: unknown): unknown {
  if (typeof value === "bigint") {
    return value <= Number.MAX_SAFE_INTEGER && value >= Number.MIN_SAFE_INTEGER
      ? Number(value)
      : value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = safeInteger(value[i]);
  } else if (
    value !== null && typeof value === "object" && !(value instanceof Date) &&
    !ArrayBuffer.isView(value)
  ) {
    const object = value as Record<string, unknown>;
    for (const key in object) object[key] = safeInteger(object[key]);
  }
  return value;
}

/**
 * The values of rows `[from, to)` from `pieces` of one column (in row
 * order, together covering them), as one array; `int64` columns' bigints
 * made numbers where exact.
 */
export function columnOf(
  pieces: ColumnPiece[],
  from: number,
  to: number,
  int64: boolean,
): ArrayLike<unknown> {
  let values: ArrayLike<unknown>;
  const one = pieces.length === 1 ? pieces[0] : undefined;
  if (one && one.rowStart === from && one.rowEnd >= to && !int64) values = one.columnData;
  else {
    const out: unknown[] = new Array(to - from);
    for (const piece of pieces) {
      const start = Math.max(from, piece.rowStart);
      const end = Math.min(to, piece.rowEnd);
      for (let r = start; r < end; r++) out[r - from] = piece.columnData[r - piece.rowStart];
    }
    values = out;
  }
  if (int64) {
    const out = values as unknown[];
    for (let i = 0; i < out.length; i++) out[i] = safeInteger(out[i]);
  }
  return values;
}

/** Makes row `i` of `columns` (in the order of `names`) as one object literal. */
export function rowMaker(
  names: readonly string[],
): (columns: ArrayLike<unknown>[], i: number) => Record<string, unknown> {
  const props = names.map((name, k) => {
    const key = JSON.stringify(name);
    return `${name === "__proto__" ? `[${key}]` : key}: c[${k}][i]`;
  });
  return new Function("c", "i", `return { ${props.join(", ")} };`) as never;
}
