/**
 * Running workers with restricted Deno permissions.
 *
 * Deno lets a Worker have fewer permissions than its parent only with the
 * unstable worker-options feature; without it, creating such a worker prints
 * an error and ends the process with code 70, which no code can catch. So
 * crunch checks for the feature first and explains how to turn it on.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { CrunchError } from "../../errors.ts";

/** True when this process has the worker-options feature on, false when it does not, undefined when it cannot tell. */
export function workerOptionsEnabled(): boolean | undefined {
  let args: string[];
  try {
    args = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
  } catch {
    return undefined;
  }
  if (args.some((a) => a === "--unstable" || a.startsWith("--unstable-worker-options"))) {
    return true;
  }
  // The feature may also be on in the deno.json that Deno found from the current directory.
  try {
    for (let dir = Deno.cwd();; dir = dirname(dir)) {
      for (const name of ["deno.json", "deno.jsonc"]) {
        try {
          if (Deno.readTextFileSync(join(dir, name)).includes('"worker-options"')) return true;
        } catch {
          // no such file here
        }
      }
      if (dirname(dir) === dir) break;
    }
  } catch {
    return undefined;
  }
  return false;
}

/** The command-line flag that turns the feature on. */
export const WORKER_OPTIONS_FLAG = "--unstable-worker-options";

/**
 * Checks that sandboxed workers can be created, and lets the worker read
 * the plug-in's own folder (it cannot import the module otherwise).
 *
 * @throws {CrunchError} when the worker-options feature is off.
 */
export function sandboxPermissions(
  files: string[],
  permissions: Deno.PermissionOptions,
): Deno.PermissionOptions {
  if (workerOptionsEnabled() === false) {
    throw new CrunchError(
      `the permissions option needs Deno's worker-options feature: run deno with ${WORKER_OPTIONS_FLAG} ` +
        `(or add "unstable": ["worker-options"] to deno.json); the crunch command adds it by itself`,
    );
  }
  if (permissions === "inherit") return permissions;
  if (permissions === "none") {
    permissions = {
      read: false,
      write: false,
      net: false,
      env: false,
      run: false,
      ffi: false,
      sys: false,
    };
  }
  const read = permissions.read;
  if (read === true || read === "inherit") return permissions;
  return { ...permissions, read: [...(Array.isArray(read) ? read : []), ...files] };
}
