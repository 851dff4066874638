/**
 * Where a plug-in's dependencies are found, the same in every mode: the
 * `deno.json` (or `deno.jsonc`) nearest to the plug-in's module (its folder
 * or one above it) maps its bare imports (`import Sentiment from
 * "sentiment"`, `import { SharedTable } from "@crunch/crunch"`), as it does
 * when the user runs a script of that folder.
 *
 * - Worker processes (`--isolation process`) run under that config.
 * - The command runs itself again under it when the config it runs under
 *   does not map the plug-in's imports the same way (`deno task --config
 *   <crunch>/deno.json crunch`, an installed command).
 * - A `crunch worker` runs such a plug-in on worker processes.
 * - Threads cannot: Deno gives a Web Worker its process's import map. A
 *   library script that runs a plug-in on threads runs under the plug-in's
 *   config (or one that maps the same names), or its workers say which
 *   config to use.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The environment variable that says which plug-in config a command was started again under. */
export const CONFIG_ENV = "CRUNCH_PLUGIN_CONFIG";

/** What a config maps: its `imports`, and whether it has `scopes` too. */
interface ImportMap {
  imports: Record<string, string>;
  scopes: boolean;
}

/** The config file nearest to the module at `url` (a `file:` URL), if any. */
export function pluginConfig(url: string): string | undefined {
  if (!url.startsWith("file:")) return undefined;
  try {
    for (let dir = dirname(fileURLToPath(url));; dir = dirname(dir)) {
      for (const name of ["deno.json", "deno.jsonc"]) {
        const path = join(dir, name);
        try {
          if (Deno.statSync(path).isFile) return path;
        } catch {
          // not here
        }
      }
      if (dirname(dir) === dir) return undefined;
    }
  } catch {
    return undefined; // no permission to look
  }
}

/** `text` without JSONC comments and trailing commas (strings kept as they are). */
function plainJson(text: string): string {
  return text
    .replace(/("(?:[^"\\]|\\.)*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (_, string) => string ?? "")
    .replace(/("(?:[^"\\]|\\.)*")|,(\s*[}\]])/g, (_, string, end) => string ?? end);
}

/** The import map of the config at `path`, with each target as an absolute URL. */
function importMapOf(path: string): ImportMap | undefined {
  let config: { imports?: Record<string, string>; scopes?: object; importMap?: string };
  try {
    config = JSON.parse(plainJson(Deno.readTextFileSync(path)));
  } catch {
    return undefined; // unreadable or not JSON: Deno itself will say so, if it matters
  }
  const base = pathToFileURL(path);
  const imports: Record<string, string> = {};
  for (const [key, target] of Object.entries(config.imports ?? {})) {
    imports[key] = /^[a-z][a-z0-9+.-]*:/i.test(target) ? target : new URL(target, base).href;
  }
  const scopes = config.scopes !== undefined || config.importMap !== undefined;
  return Object.keys(imports).length || scopes ? { imports, scopes } : undefined;
}

/** The config that maps the imports of the plug-in at `url`, if it has one that maps any. */
export function importConfig(url: string): string | undefined {
  const config = pluginConfig(url);
  return config !== undefined && importMapOf(config) !== undefined ? config : undefined;
}

/** What `specifier` maps to under the config at `path`, if it maps it. */
export function mapped(path: string, specifier: string): string | undefined {
  const map = importMapOf(path);
  if (map === undefined) return undefined;
  if (specifier in map.imports) return map.imports[specifier];
  let best = "";
  for (const key of Object.keys(map.imports)) {
    if (key.endsWith("/") && specifier.startsWith(key) && key.length > best.length) best = key;
  }
  return best ? map.imports[best] + specifier.slice(best.length) : undefined;
}

/**
 * The plug-in config this process must run under to load the plug-in at
 * `url` on threads, when its own import map does not map the plug-in's
 * names the same way; `undefined` when it does (or when the plug-in has no
 * such config).
 */
export function configNeeded(url: string): string | undefined {
  const config = importConfig(url);
  if (config === undefined) return undefined;
  try {
    if (Deno.env.get(CONFIG_ENV) === config) return undefined; // started again under it already
  } catch {
    // no permission to read the environment
  }
  const map = importMapOf(config)!;
  if (map.scopes) return config;
  for (const [key, target] of Object.entries(map.imports)) {
    // A prefix is compared by one name under it, where its target is a folder of modules.
    const prefix = key.endsWith("/");
    if (prefix && !/^(file|https?):/.test(target)) continue;
    const probe = prefix ? "probe.ts" : "";
    let got: string;
    try {
      got = import.meta.resolve(key + probe);
    } catch {
      return config; // this process cannot resolve the name at all
    }
    try {
      // npm: and jsr: targets resolve to where their packages are, as the name does.
      if (import.meta.resolve(target + probe) !== got) return config;
    } catch {
      // the target itself is not resolvable here (a package this process has not loaded):
      // the name resolves, so this process maps it; take it as the same
    }
  }
  return undefined;
}
