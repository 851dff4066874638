/**
 * The plug-in's optional `prepare(spec)`: called once per run (or per Pool)
 * on the main thread, before the workers start, to build what every worker
 * shares. Its result reaches each `init` as `context.shared`.
 *
 * @module
 */

import { PrepareError } from "../../errors.ts";

/** Imports `module` on the main thread and calls its `prepare(spec)`, if it has one. */
export async function runPrepare(module: string, spec: unknown): Promise<unknown> {
  // Only modules that export prepare are run here; the import itself is cached by Deno.
  let exports: Record<string, unknown>;
  try {
    exports = await import(module);
  } catch {
    return undefined; // the workers will report the load failure as a ModuleError
  }
  if (typeof exports.prepare !== "function") return undefined;
  let shared: unknown;
  try {
    shared = await exports.prepare(spec);
  } catch (error) {
    const e = error as Error;
    throw new PrepareError(
      module,
      `failed: ${e?.name ?? "Error"}: ${e?.message ?? String(error)}`,
      {
        cause: error,
      },
    );
  }
  try {
    structuredClone(shared);
  } catch (error) {
    throw new PrepareError(
      module,
      `returned a value that cannot be sent to workers: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return shared;
}
