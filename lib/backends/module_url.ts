/**
 * Resolving the classifier module argument to a URL a worker can import.
 *
 * @module
 */

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ModuleError } from "../errors.ts";

/** Resolves a path (relative to the current directory) or URL; checks that a local file exists. */
export async function resolveModule(module: string | URL): Promise<string> {
  let url: URL;
  if (module instanceof URL) url = module;
  else if (typeof module !== "string" || module === "") {
    throw new TypeError(`the classifier module must be a path or URL, got ${String(module)}`);
  } else if (/^[a-z][a-z0-9+.-]+:/i.test(module)) url = new URL(module);
  else url = pathToFileURL(resolve(module));
  if (url.protocol === "file:") {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(url);
    } catch (error) {
      const problem = error instanceof Deno.errors.NotFound
        ? "was not found"
        : `could not be read: ${(error as Error).message}`;
      throw new ModuleError(url.href, problem, undefined, { cause: error });
    }
    if (!info.isFile) throw new ModuleError(url.href, "is not a file");
  }
  return url.href;
}
