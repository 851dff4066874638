/**
 * Loading a classifier plug-in module inside a worker.
 *
 * @module
 */

import type { Plugin as Contract } from "../lib/plugin.ts";
import type { SerializedError } from "../lib/wire/task.ts";
import { serializeError } from "../lib/wire/task.ts";

/** The contract a classifier module fulfils, as the worker calls it. */
export type Plugin = Contract<unknown, unknown, unknown, unknown>;

/** What kind of thing an export is, for messages. */
function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return type === "object" ? "an object" : /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** The outcome of loading: the plug-in, or why it cannot be used. */
export type Loaded =
  | { ok: true; plugin: Plugin; exports: string[] }
  | { ok: false; stage: "load" | "contract"; error: SerializedError; exports: string[] };

/** Imports `url` and checks that it exports the functions crunch calls. */
export async function loadPlugin(url: string): Promise<Loaded> {
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    return { ok: false, stage: "load", error: serializeError(error), exports: [] };
  }
  const exports = Object.keys(module).sort();
  const problem = (message: string): Loaded => ({
    ok: false,
    stage: "contract",
    error: { name: "TypeError", message },
    exports,
  });
  if (typeof module.classify !== "function" && typeof module.classifyBatch !== "function") {
    if ("classify" in module) {
      return problem(`exports classify, but it is ${kind(module.classify)}, not a function`);
    }
    const fallback = module.default as Record<string, unknown> | undefined;
    if (typeof fallback === "function" || typeof fallback?.classify === "function") {
      return problem(
        "has no classify export, only a default export: crunch calls named exports, so write " +
          "`export function classify(row) { ... }` (and `export function init(spec) { ... }`)",
      );
    }
    return problem("has no classify function export");
  }
  for (const name of ["init", "close", "prepare", "classify", "classifyBatch"]) {
    if (module[name] !== undefined && typeof module[name] !== "function") {
      return problem(`exports ${name}, but it is ${kind(module[name])}, not a function`);
    }
  }
  return { ok: true, plugin: module as unknown as Plugin, exports };
}
