/**
 * The kinds of value an option takes, each checked one way whether it comes
 * from the library (a value of the wrong type is a TypeError, one out of
 * range a RangeError, both saying what they got) or from the command line
 * (text read into the value, a {@linkcode FlagError} saying what is wrong).
 *
 * @module
 */

import { describe } from "../checks.ts";

/** The record formats crunch reads. */
export const FORMATS = ["csv", "tsv", "ndjson", "parquet"] as const;

/** The formats results are written in. */
export const OUTPUTS = ["ndjson", "csv", "json", "parquet"] as const;

/** True for a function. */
export const isFunction = (value: unknown): boolean => typeof value === "function";

/** A flag's text that does not read as its option's value: the command's usage error (exit 2). */
export class FlagError extends Error {}

/** How an option's value is checked (library) and read (command line). */
export interface Kind<T> {
  /** What the value must be, for messages: "a positive integer". */
  readonly what: string;
  /** `value` as the option `name` takes it; throws a TypeError or RangeError. */
  check(name: string, value: unknown): T;
  /** The text of flag `--flag` as the option's value; throws a FlagError. */
  read(flag: string, text: string): T;
}

function wrong(flag: string, what: string, text: string): FlagError {
  return new FlagError(`--${flag} must be ${what}, got "${text}"`);
}

/** A whole number of at least `min` (1, or 0 where 0 turns a feature off). */
export function integer(min: 0 | 1 = 1): Kind<number> {
  const what = min === 1 ? "a positive integer" : "a whole number (0 or more)";
  return {
    what,
    check(name, value) {
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
        throw new (typeof value === "number" ? RangeError : TypeError)(
          `option ${name} must be ${what}, got ${describe(value)}`,
        );
      }
      return value;
    },
    read(flag, text) {
      const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < min) throw wrong(flag, what, text);
      return n;
    },
  };
}

/** A byte count: a positive integer, on the command line with an optional k, M or G. */
export function size(): Kind<number> {
  const whole = integer(1);
  return {
    what: whole.what,
    check: whole.check,
    read(flag, text) {
      const match = /^(\d+)([kmg]i?b?)?$/i.exec(text.trim());
      const unit = match?.[2]?.[0].toLowerCase() ?? "";
      const scale = { "": 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[unit] ?? NaN;
      const n = match ? Number(match[1]) * scale : NaN;
      if (!Number.isSafeInteger(n) || n < 1) {
        throw wrong(flag, "a positive integer or a size such as 64K, 4M or 1G", text);
      }
      return n;
    },
  };
}

/**
 * A duration in milliseconds, 0 for off; on the command line in seconds
 * (`--stall 30`, `--stall 0.5`).
 */
export function secondsAsMs(): Kind<number> {
  const what = "a number of milliseconds, 0 or more";
  return {
    what,
    check(name, value) {
      if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
        throw new TypeError(`option ${name} must be ${what}, got ${describe(value)}`);
      }
      return value;
    },
    read(flag, text) {
      const seconds = Number(text);
      if (text.trim() === "" || !(seconds >= 0) || !Number.isFinite(seconds)) {
        throw wrong(flag, "a number of seconds, 0 or more (0: off)", text);
      }
      return Math.round(seconds * 1000);
    },
  };
}

/** A positive number (a rate may be fractional: 0.5 a second). */
export function positiveNumber(): Kind<number> {
  const what = "a positive number";
  return {
    what,
    check(name, value) {
      if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
        throw new TypeError(`option ${name} must be ${what}, got ${describe(value)}`);
      }
      return value;
    },
    read(flag, text) {
      const n = Number(text);
      if (!(n > 0) || !Number.isFinite(n)) throw wrong(flag, what, text);
      return n;
    },
  };
}

/** True or false (a flag is true when given). */
export function boolean(): Kind<boolean> {
  return {
    what: "true or false",
    check(name, value) {
      if (typeof value !== "boolean") {
        throw new TypeError(`option ${name} must be true or false, got ${describe(value)}`);
      }
      return value;
    },
    read: () => true,
  };
}

/** A path: a string that is not empty. */
export function path(): Kind<string> {
  return {
    what: "a path",
    check(name, value) {
      if (typeof value !== "string" || value === "") {
        throw new TypeError(`option ${name} must be a path, got ${describe(value)}`);
      }
      return value;
    },
    read(flag, text) {
      if (text === "") throw wrong(flag, "a path", text);
      return text;
    },
  };
}

/** One of `allowed`. */
export function choice<T extends string>(allowed: readonly T[]): Kind<T> {
  const quoted = allowed.map((a) => JSON.stringify(a)).join(", ").replace(/, ([^,]*)$/, " or $1");
  return {
    what: `one of ${allowed.join(", ")}`,
    check(name, value) {
      if (!allowed.includes(value as T)) {
        throw new TypeError(`option ${name} must be ${quoted}, got ${describe(value)}`);
      }
      return value as T;
    },
    read(flag, text) {
      if (!allowed.includes(text as T)) throw wrong(flag, `one of ${allowed.join(", ")}`, text);
      return text as T;
    },
  };
}

/** A value checked by `test`, which returns the message's "must be ..." part when it fails. */
export function custom<T>(what: string, test: (value: unknown) => boolean): Kind<T> {
  return {
    what,
    check(name, value) {
      if (!test(value)) {
        throw new TypeError(`option ${name} must be ${what}, got ${describe(value)}`);
      }
      return value as T;
    },
    read(flag) {
      throw new FlagError(`--${flag} cannot be given on the command line`);
    },
  };
}

/**
 * A text encoding `TextDecoder` knows, by any of its labels (`latin1`,
 * `windows-1252`, `utf-16le`, `shift_jis`...); the value is the encoding's
 * own name (`latin1` gives `windows-1252`, as the WHATWG Encoding Standard
 * says).
 */
export function encoding(): Kind<string> {
  const what =
    "a text encoding TextDecoder knows, such as utf-8, windows-1252 (latin1) or utf-16le";
  const canonical = (label: unknown): string | undefined => {
    if (typeof label !== "string") return undefined;
    try {
      const name = new TextDecoder(label.trim()).encoding;
      return name === "replacement" ? undefined : name; // labels that only ever decode to U+FFFD
    } catch {
      return undefined;
    }
  };
  return {
    what,
    check(name, value) {
      const found = canonical(value);
      if (found === undefined) {
        throw new TypeError(`option ${name} must be ${what}, got ${describe(value)}`);
      }
      return found;
    },
    read(flag, text) {
      const found = canonical(text);
      if (found === undefined) throw wrong(flag, what, text);
      return found;
    },
  };
}

/** One ASCII character other than a quote or a line end: a field delimiter. */
export function delimiter(): Kind<string> {
  const what = "one ASCII character other than a quote or a line end";
  const valid = (d: unknown) =>
    typeof d === "string" && d.length === 1 && d.charCodeAt(0) <= 127 && !/["\r\n]/.test(d);
  return {
    what,
    check(name, value) {
      if (!valid(value)) {
        throw new TypeError(`option ${name} must be ${what}, got ${describe(value)}`);
      }
      return value as string;
    },
    read(flag, text) {
      const d = text === "\\t" || text === "tab" ? "\t" : text;
      if (!valid(d)) throw wrong(flag, `${what} (\\t for a tab)`, text);
      return d;
    },
  };
}

/** Distinct, non-empty column names (on the command line, separated by commas). */
export function names(): Kind<string[]> {
  return {
    what: "an array of names",
    check(name, value) {
      if (!Array.isArray(value) || value.some((c) => typeof c !== "string") || !value.length) {
        throw new TypeError(`option ${name} must be an array of names, got ${describe(value)}`);
      }
      if (new Set(value).size !== value.length) {
        throw new TypeError(`option ${name} names a column twice`);
      }
      return value;
    },
    read(flag, text) {
      const list = text.split(",").map((s) => s.trim());
      if (list.some((n) => n === "") || new Set(list).size !== list.length) {
        throw wrong(flag, "distinct, non-empty names", text);
      }
      return list;
    },
  };
}

/**
 * Columns and their types, `allowed` each: an object of names and types;
 * on the command line `name:type,...`.
 */
export function typedColumns<T extends string>(allowed: readonly T[]): Kind<Record<string, T>> {
  const what = `an object of column names and types (${allowed.join(", ")})`;
  const checked = (pairs: [string, string][], fail: () => Error) => {
    if (!pairs.length || pairs.some(([n, t]) => n === "" || !allowed.includes(t as T))) {
      throw fail();
    }
    return Object.fromEntries(pairs) as Record<string, T>;
  };
  return {
    what,
    check(name, value) {
      const ok = typeof value === "object" && value !== null && !Array.isArray(value);
      const fail = () => new TypeError(`option ${name} must be ${what}, got ${describe(value)}`);
      if (!ok) throw fail();
      return checked(Object.entries(value) as [string, string][], fail);
    },
    read(flag, text) {
      const pairs = text.split(",").map((p) => {
        const at = p.lastIndexOf(":");
        return [p.slice(0, at).trim(), p.slice(at + 1).trim()] as [string, string];
      });
      return checked(
        pairs,
        () => wrong(flag, `name:type,... (types: ${allowed.join(", ")})`, text),
      );
    },
  };
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why a header's name or value cannot be sent (its value is never shown: it may be a secret). */
function badHeader(name: string, value: string): string | undefined {
  if (!TOKEN.test(name)) return `the header name "${name}" is not a valid token`;
  if (/[\r\n\0]/.test(value)) return `the value of header ${name} holds a line break`;
  return undefined;
}

/**
 * HTTP headers sent with every request of a URL input: an object of names
 * and values, or a list of pairs; on the command line `Name: value`, once
 * per header. The value is a pair list. A value is never shown in a
 * message (it may be a token).
 */
export function headers(): Kind<[string, string][]> {
  const what = "headers: an object of names and values, or a list of [name, value] pairs";
  return {
    what,
    check(name, value) {
      const pairs = Array.isArray(value)
        ? value
        : typeof value === "object" && value !== null
        ? Object.entries(value)
        : undefined;
      const ok = pairs?.every((p) =>
        Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && typeof p[1] === "string"
      );
      if (!ok) throw new TypeError(`option ${name} must be ${what}`);
      const list = (pairs as [string, string][]).map(([n, v]) => [n.trim(), v.trim()]);
      for (const [n, v] of list) {
        const why = badHeader(n, v);
        if (why) throw new TypeError(`option ${name}: ${why}`);
      }
      return list as [string, string][];
    },
    read(flag, text) {
      const colon = text.indexOf(":");
      const header: [string, string] = [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
      const why = colon <= 0 ? "it is not Name: value" : badHeader(...header);
      if (why) throw new FlagError(`--${flag} must be a header as 'Name: value': ${why}`);
      return [header];
    },
  };
}
