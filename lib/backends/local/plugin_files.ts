/**
 * The files a sandboxed plug-in may read to load itself: its module and the
 * local modules it imports statically (relative or `file:` specifiers,
 * followed transitively), each by the path it is imported at and by its real
 * path. Nothing else of its folder: a symbolic link beside it (`plug/etc ->
 * /etc`) or the rest of a home folder it was saved in is not among them.
 * Data files it reads must be named by the user (`--allow-read`).
 *
 * @module
 */

import { fileURLToPath as fromFileUrl } from "node:url";
import { mapped } from "../plugin_config.ts";

/** Static imports, re-exports and literal dynamic imports. */
const SPECIFIER =
  /(?:^|[\s;}])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|(?:^|[\s;}])import\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

/**
 * The local files the module at `url` loads (its own path first), as given
 * and as real paths; with `config` (the plug-in's `deno.json`), that file
 * and the local files its import map sends bare names to.
 */
export async function pluginFiles(url: string, config?: string): Promise<string[]> {
  const found = new Set<string>();
  const queue = [url];
  if (config !== undefined) found.add(config);
  while (queue.length) {
    const next = queue.shift()!;
    if (!next.startsWith("file:")) continue;
    const path = fromFileUrl(next);
    if (found.has(path)) continue;
    found.add(path);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
      found.add(await Deno.realPath(path));
    } catch {
      continue; // not there: the worker's import says so
    }
    for (const match of text.matchAll(SPECIFIER)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      if (/^(\.{1,2}\/|\/|file:)/.test(specifier)) queue.push(new URL(specifier, next).href);
      else if (config !== undefined && !/^[a-z][a-z0-9+.-]*:/i.test(specifier)) {
        const target = mapped(config, specifier);
        if (target !== undefined) queue.push(target);
      }
    }
  }
  return [...found];
}
