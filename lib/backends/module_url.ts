/**
 * Resolving the classifier module argument to a URL a worker can import.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
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
        ? `was not found${relativeHint(module)}`
        : `could not be read: ${(error as Error).message}`;
      throw new ModuleError(url.href, problem, undefined, { cause: error });
    }
    if (!info.isFile) throw new ModuleError(url.href, "is not a file");
  }
  return url.href;
}

/**
 * For a relative path that led nowhere: what it was resolved against, and
 * how a script names the file beside it (a path is relative to the folder
 * the process runs in, not to the script that names it).
 */
function relativeHint(module: string | URL): string {
  if (typeof module !== "string" || isAbsolute(module) || /^[a-z][a-z0-9+.-]+:/i.test(module)) {
    return "";
  }
  const path = module.startsWith(".") ? module : `./${module}`;
  return ` (the relative path ${module} is resolved against the current folder, ${Deno.cwd()}; ` +
    `a script names the file beside itself as new URL("${path}", import.meta.url))`;
}
