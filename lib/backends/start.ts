/**
 * Starting the backend that the options ask for.
 *
 * @module
 */

import { resolveModule } from "./module_url.ts";
import type { PoolOptions } from "../options.ts";
import { sandboxPermissions } from "./local/sandbox.ts";
import type { Backend } from "./backend.ts";
import { LocalBackend } from "./local/local.ts";
import { RedisBackend } from "./redis/coordinator.ts";
import { processLinks } from "./local/process_link.ts";
import { threadLinks } from "./local/thread_link.ts";
import { pluginFiles } from "./local/plugin_files.ts";
import { configNeeded, importConfig } from "./plugin_config.ts";
import { ModuleError } from "../errors.ts";

/**
 * The heap limit of a worker process unless one is given, in MB: half the
 * machine's memory shared by the workers, between 512 MB and 2 GB. V8's own
 * limit (about 4 GB) let one record that allocates without bound take about
 * a minute per death to fill it (measured: 100 records, one of them
 * runaway, isolated in 552 s at V8's limit; 90 s at 2 GB and 25 s at 512 MB,
 * an out-of-memory death splitting the suspect records at once).
 * Undefined (V8's own) where the memory cannot be read.
 */
export function defaultProcessHeap(workers: number): number | undefined {
  try {
    const share = Deno.systemMemoryInfo().total / 2 / workers / (1 << 20);
    return Math.round(Math.min(2048, Math.max(512, share)));
  } catch {
    return undefined;
  }
}

/** Starts `options.workers` workers with `module` loaded and initialised (options checked). */
export async function startBackend(
  module: string | URL,
  options: PoolOptions & { workers: number; consoleToStderr?: boolean },
  signal?: AbortSignal,
): Promise<Backend> {
  const url = await resolveModule(module);
  if (options.redis !== undefined) {
    const redis = typeof options.redis === "string" ? { url: options.redis } : options.redis;
    return RedisBackend.start(url, redis, options);
  }
  const { permissions, maxWorkerMemory } = options;
  const config = importConfig(url);
  // A worker with fewer permissions than this process may read the plug-in's own files alone.
  const files = (permissions !== undefined || options.isolation === "process") &&
      url.startsWith("file:")
    ? await pluginFiles(url, config)
    : [];
  const links = options.isolation === "process"
    ? processLinks({
      files,
      permissions,
      maxWorkerMemory: maxWorkerMemory ?? defaultProcessHeap(options.workers),
      config,
    })
    : threadLinks(
      permissions === undefined ? undefined : sandboxPermissions(files, permissions),
      options.consoleToStderr,
    );
  try {
    return await LocalBackend.start(
      url,
      options.spec,
      options.workers,
      links,
      signal,
      maxWorkerMemory,
    );
  } catch (error) {
    throw options.isolation === "process" ? error : withConfigHint(error, url);
  }
}

/**
 * A thread's failure to load a plug-in whose imports its own `deno.json`
 * maps, and this process does not: the error says which config to run under.
 */
function withConfigHint(error: unknown, url: string): unknown {
  if (!(error instanceof ModuleError) || !/import map|not a dependency/i.test(error.message)) {
    return error;
  }
  const config = configNeeded(url);
  if (config === undefined) return error;
  // Deno's own hint (`deno add ...`) is not the way here: the plug-in's config is.
  const lines = error.message.slice(`classifier module ${error.module} `.length).split("\n");
  const where = lines.find((line) => /^\s*at /.test(line))?.trim();
  const problem = `${lines[0]}${where ? ` (${where})` : ""}. Its imports are mapped by ` +
    `${config}, which this process does not run under (threads share their process's import ` +
    `map): run with --config ${config}, or use isolation "process" (worker processes run ` +
    `under the plug-in's config)`;
  return new ModuleError(error.module, problem, undefined, { cause: error.cause });
}
