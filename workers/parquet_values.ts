/**
 * Parquet's 64-bit integers as a plug-in gets them: a `number` when it is
 * exact (within ±2^53 - 1), a `bigint` otherwise, in lists and structs too.
 *
 * @module
 */

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

/** `row`, with the bigints of `columns` (those that hold 64-bit integers) made numbers where exact. */
export function safeIntegers(
  row: Record<string, unknown>,
  columns: string[],
): Record<string, unknown> {
  for (const column of columns) row[column] = safeInteger(row[column]);
  return row;
}
