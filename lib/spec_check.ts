/**
 * What a spec may hold: it crosses to every worker (a thread, a worker
 * process, a `crunch worker` on another machine) by structured clone, so
 * whatever structured clone refuses, or copies into something else, is a
 * CrunchError naming where it lies, before any worker starts. Refused: a
 * function, a symbol, a WeakMap. Changed in silence, and so refused too: a
 * class instance with methods (the worker would get a plain object without
 * them), a getter (the worker would get the value it returned once), a
 * symbol-keyed property (dropped).
 *
 * @module
 */

import { TYPED_ARRAYS } from "./wire/shared_copy.ts";
import { describe } from "./checks.ts";
import { CrunchError } from "./errors.ts";

/** A place inside the spec, and what is wrong there. */
interface Found {
  path: string;
  what: string;
}

/** Prototypes whose instances structured clone copies as what they are. */
const CLONEABLE = new Set<unknown>([
  null,
  Object.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  SharedArrayBuffer.prototype,
  DataView.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
  BigInt.prototype,
  Blob.prototype,
  File.prototype,
  DOMException.prototype,
  ...[Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]
    .map((e) => e.prototype),
  ...TYPED_ARRAYS.map((t) => t.prototype),
]);

/** How a key reads in a path: `spec.a`, `spec["a b"]`, `spec[3]`. */
function step(path: string, key: string, inArray: boolean): string {
  if (inArray) return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** The inner values of `value`, each with its path. */
function children(value: object, path: string): [string, unknown][] {
  if (value instanceof Map) {
    return [...value].map(([k, v]) => [`${path}.get(${JSON.stringify(k) ?? String(k)})`, v]);
  }
  if (value instanceof Set) return [...value].map((v, i) => [`${path} (Set item ${i})`, v]);
  if (ArrayBuffer.isView(value)) return [];
  return Object.entries(value).map(([k, v]) => [step(path, k, Array.isArray(value)), v]);
}

/** Where inside `value` the first thing that structured clone refuses lies, and what it is. */
function refused(value: unknown, path: string, seen: Set<unknown>): Found | undefined {
  if (typeof value === "function" || typeof value === "symbol") {
    return { path, what: describe(value) };
  }
  if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
  seen.add(value);
  try {
    structuredClone(value);
    return undefined;
  } catch {
    // Look for a part that fails on its own; the value itself when none does.
  }
  for (const [inner, v] of children(value, path)) {
    const found = refused(v, inner, seen);
    if (found) return found;
  }
  return { path, what: describe(value) };
}

/** The methods and accessors a class instance's prototypes give it, up to a built-in. */
function methodsOf(value: object): string[] {
  const names: string[] = [];
  for (let proto = Object.getPrototypeOf(value); !CLONEABLE.has(proto);) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name !== "constructor" && !names.includes(name)) names.push(name);
    }
    proto = Object.getPrototypeOf(proto);
    if (proto === undefined) break;
  }
  return names;
}

/** What structured clone would copy into something else inside `value`, if anything. */
function changed(value: unknown, path: string, seen: Set<unknown>): Found | undefined {
  if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
  seen.add(value);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return undefined;
  if (value instanceof SharedArrayBuffer) return undefined;
  const proto = Object.getPrototypeOf(value);
  if (!CLONEABLE.has(proto)) {
    const methods = methodsOf(value);
    if (methods.length > 0) {
      const name = proto?.constructor?.name || "a class";
      return {
        path,
        what: `an instance of ${name}, whose ${methods.slice(0, 3).join(", ")}` +
          `${methods.length > 3 ? ", ..." : ""} a worker would not get (it gets a plain object)`,
      };
    }
  }
  const symbol = Object.getOwnPropertySymbols(value)[0];
  if (symbol !== undefined) {
    return { path, what: `an object with a symbol key (${String(symbol)}), which is dropped` };
  }
  if (!Array.isArray(value)) {
    for (const key of Object.keys(value)) {
      if (Object.getOwnPropertyDescriptor(value, key)?.get) {
        return {
          path: step(path, key, false),
          what: "a getter: a worker would get the value it returns now, not the getter",
        };
      }
    }
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item === null || typeof item !== "object") continue;
      const found = changed(item, `${path}[${i}]`, seen);
      if (found) return found;
    }
    return undefined;
  }
  for (const [inner, v] of children(value, path)) {
    const found = changed(v, inner, seen);
    if (found) return found;
  }
  return undefined;
}

/**
 * Throws a CrunchError when `spec` cannot cross to the workers as it is:
 * when structured clone refuses a part of it, or would copy a part into
 * something else (a class instance with methods, a getter, a symbol key).
 * The message names the path inside the spec (`spec.model.predict`).
 *
 * @example A class instance with a method is refused, naming where it lies
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSpec } from "./spec_check.ts";
 *
 * class Model {
 *   bias = 1;
 *   predict(x: number) {
 *     return x + this.bias;
 *   }
 * }
 * checkSpec({ lexicon: "words.tsv", weights: [1, 2] }); // plain data passes
 * assert.throws(
 *   () => checkSpec({ model: new Model() }),
 *   /spec\.model is an instance of Model, whose predict a worker would not get/,
 * );
 * ```
 */
export function checkSpec(spec: unknown): void {
  let found: Found | undefined;
  let cause: unknown;
  try {
    structuredClone(spec);
  } catch (error) {
    cause = error;
    found = refused(spec, "spec", new Set()) ?? { path: "spec", what: describe(spec) };
    throw new CrunchError(
      `the spec cannot be sent to the workers: ${found.path} is ${found.what}, ` +
        "which structured clone cannot copy. Send plain data (paths, URLs, numbers, strings, " +
        "arrays, objects) and build the rest in init()",
      { cause },
    );
  }
  found = changed(spec, "spec", new Set());
  if (found) {
    throw new CrunchError(
      `the spec cannot be sent to the workers as it is: ${found.path} is ${found.what}. ` +
        "Send plain data (paths, URLs, numbers, strings, arrays, objects) and build the rest " +
        "in init()",
    );
  }
}
