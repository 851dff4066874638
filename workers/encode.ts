/**
 * Serializing results inside a worker, so the main thread receives bytes it
 * can write as they are (used by the crunch command).
 *
 * @module
 */

import type { OutputFormat } from "../lib/protocol.ts";

/** The CSV columns a result implies: its own keys for a plain object, else one `result` column. */
export function columnsOf(value: unknown): string[] {
  return isPlainObject(value) ? Object.keys(value) : ["result"];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** One CSV cell: strings quoted when they must be, other values as JSON. */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  const text = typeof value === "string"
    ? value
    : typeof value === "object"
    ? JSON.stringify(value)
    : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Encodes one result as a line of `format` (without the line end).
 *
 * @throws {Error} when the value has no JSON form, or for CSV when it has keys outside `columns`.
 */
export function encodeResult(
  format: OutputFormat,
  value: unknown,
  columns: readonly string[],
): string {
  if (format !== "csv") {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`a ${typeof value} has no JSON form`);
    return text;
  }
  if (!isPlainObject(value)) {
    if (columns.length !== 1 || columns[0] !== "result") {
      throw new TypeError(`result is not an object with the CSV columns ${columns.join(", ")}`);
    }
    return csvCell(value);
  }
  for (const key in value) {
    if (!columns.includes(key)) {
      throw new TypeError(
        `result has key ${JSON.stringify(key)}, not among the CSV columns ${columns.join(", ")}`,
      );
    }
  }
  return columns.map((column) => csvCell(value[column])).join(",");
}
