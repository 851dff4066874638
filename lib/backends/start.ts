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
  const links = options.isolation === "process"
    ? processLinks({ module: url, permissions, maxWorkerMemory })
    : threadLinks(
      permissions === undefined ? undefined : sandboxPermissions(url, permissions),
      options.consoleToStderr,
    );
  return LocalBackend.start(url, options.spec, options.workers, links, signal, maxWorkerMemory);
}
