/**
 * Loading a classifier plug-in module inside a worker.
 *
 * @module
 */

import type { SerializedError, WorkerContext } from "../lib/protocol.ts";
import { serializeError } from "../lib/protocol.ts";

/** The contract a classifier module fulfils. */
export interface Plugin {
  init?: (spec: unknown, context: WorkerContext) => unknown;
  classify: (row: unknown) => unknown;
  close?: () => unknown;
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
  if (typeof module.classify !== "function") {
    return problem("has no classify function export");
  }
  for (const name of ["init", "close", "prepare"]) {
    if (module[name] !== undefined && typeof module[name] !== "function") {
      return problem(`exports ${name} but it is not a function`);
    }
  }
  return { ok: true, plugin: module as unknown as Plugin, exports };
}
