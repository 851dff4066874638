/**
 * Serializing results inside a worker, so the main thread receives bytes it
 * can write as they are (used by the crunch command).
 *
 * @module
 */

import type { OutputFormat } from "./format.ts";
import { jsonSafe } from "./json_safe.ts";

/** Built-ins that JSON writes as `{}` (or drops), losing what they hold. */
const LOSSY: [abstract new (...args: never[]) => unknown, string][] = [
  [Map, "a Map"],
  [Set, "a Set"],
  [WeakMap, "a WeakMap"],
  [WeakSet, "a WeakSet"],
  [RegExp, "a RegExp"],
  [Error, "an Error"],
  [ArrayBuffer, "an ArrayBuffer"],
  [Promise, "a Promise (return the value, or make classify async and await it)"],
];

/**
 * Where JSON would silently lose or change part of `value`, as a message
 * (`result.tags is a Set ...`), or undefined when its JSON form is faithful.
 * Dates (written as ISO strings by their toJSON), -0 (written as 0),
 * bigints (written as the integers they are, every digit) and properties
 * whose value is undefined (left out) are accepted as JSON users expect them; Maps, Sets, typed arrays, NaN and the infinities, functions
 * and symbols inside arrays are not.
 */
export function jsonLoss(value: unknown, path = "result", depth = 0): string | undefined {
  if (depth === 0 && jsonSafe(value)) return undefined; // the common case, checked fast
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON writes as null`;
    case "function":
    case "symbol":
      return `${path} is a ${typeof value}, which JSON drops`;
    case "object": {
      if (value === null || depth > 64) return undefined;
      if (ArrayBuffer.isView(value)) {
        return `${path} is a ${value.constructor.name}, which JSON writes as an object of ` +
          "indices (convert it with Array.from)";
      }
      for (const [type, name] of LOSSY) {
        if (value instanceof type) {
          return `${path} is ${name}, which JSON writes as {}` +
            (type === Map
              ? " (convert it with Object.fromEntries)"
              : type === Set
              ? " (convert it with [...set])"
              : "");
        }
      }
      if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const inner = value[i];
          if (inner === undefined || typeof inner === "function" || typeof inner === "symbol") {
            return `${path}[${i}] is ${
              inner === undefined ? "undefined" : `a ${typeof inner}`
            }, which JSON writes as null`;
          }
          const loss = jsonLoss(inner, `${path}[${i}]`, depth + 1);
          if (loss) return loss;
        }
        return undefined;
      }
      for (const [key, inner] of Object.entries(value)) {
        if (inner === undefined) continue;
        const loss = jsonLoss(
          inner,
          /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`,
          depth + 1,
        );
        if (loss) return loss;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The CSV columns a result implies: its own keys for a plain object, else one `result` column. */
export function columnsOf(value: unknown): string[] {
  return isPlainObject(value) ? Object.keys(value) : ["result"];
}

/** True for an object literal (or one made with a null prototype), not an array or class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `JSON.rawJSON` (V8 has it; TypeScript's library does not declare it yet). */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** JSON.stringify's replacer that writes a bigint as the integer it is, every digit. */
function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? rawJSON(value.toString()) : value;
}

/** `value` as JSON, bigints written as integers; undefined where JSON has no form for it. */
function jsonOf(value: unknown): string | undefined {
  return jsonSafe(value) ? JSON.stringify(value) : JSON.stringify(value, bigints);
}

/** One CSV cell: strings quoted when they must be, dates as ISO 8601, other values as JSON. */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  const text = typeof value === "string"
    ? value
    : value instanceof Date
    ? value.toISOString()
    : typeof value === "object"
    ? jsonOf(value)!
    : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Encodes one result as a line of `format` (without the line end).
 *
 * @throws {Error} when the value has no faithful JSON form (see
 * {@linkcode jsonLoss}), or for CSV when it has keys outside `columns`.
 */
export function encodeResult(
  format: OutputFormat,
  value: unknown,
  columns: readonly string[],
): string {
  // One look for the common case (plain strings, numbers, booleans): no loss, no bigint.
  const safe = jsonSafe(value);
  const loss = safe ? undefined : jsonLoss(value);
  if (loss) throw new TypeError(loss);
  if (format !== "csv") {
    const text = safe ? JSON.stringify(value) : JSON.stringify(value, bigints);
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
