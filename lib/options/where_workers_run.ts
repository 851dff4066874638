/**
 * The options that say where and how the workers run: threads or worker
 * processes and their memory, `crunch worker`s through Redis, and the
 * sandbox: a part of the option table (`table.ts`), in its order.
 *
 * @module
 */

import { choice, integer } from "./kinds.ts";
import type { OptionSpec } from "./spec.ts";

/** The options of where and how the workers run, in the order the command's help lists them. */
export const WHERE_WORKERS_RUN = [
  {
    key: "isolation",
    scope: "pool",
    kind: choice(["thread", "process"] as const),
    flag: {
      name: "isolation",
      arg: "<how>",
      help: "thread (default: Web Workers in this process) or process (a deno process per " +
        "worker: an out-of-memory or a hang ends only that worker)",
    },
  },
  {
    key: "maxWorkerMemory",
    scope: "pool",
    kind: integer(),
    flag: {
      name: "max-worker-memory",
      arg: "<MB>",
      help: "heap limit of each worker: a process's hard limit (an out-of-memory isolates " +
        "the record); a thread is replaced between chunks past it",
    },
  },
  {
    key: "redis",
    scope: "pool",
    flag: {
      name: "redis",
      arg: "<url>",
      help: "run the tasks on `crunch worker` processes (on any machines) through Redis " +
        "Streams: redis://[user[:password]@]host[:port][/db] or rediss://; @file or env:NAME " +
        "(env: CRUNCH_REDIS_URL) reads it from there. Runs are signed with CRUNCH_REDIS_KEY " +
        "(or the file CRUNCH_REDIS_KEY_FILE names) when it is set",
    },
  },
  {
    scope: "command",
    flag: {
      name: "high-water",
      arg: "<n>",
      help: "with --redis: most tasks in Redis at once (default 64)",
    },
  },
  {
    scope: "command",
    flag: {
      name: "wait-for-workers",
      arg: "<s>",
      help: "with --redis: fail the run when no `crunch worker` accepts it for this many " +
        "seconds (default 60); meanwhile say what it waits for",
    },
  },
  {
    key: "permissions",
    scope: "pool",
    flag: {
      name: "sandbox",
      help: "run the classifier without write, net, env, run, ffi or sys access, and read " +
        "access to its own folder only (for modules someone else wrote)",
    },
  },
  {
    scope: "command",
    flag: {
      name: "allow-read",
      arg: "<paths>",
      help: "with --sandbox: also let the classifier read these (comma-separated)",
    },
  },
  {
    scope: "command",
    flag: { name: "allow-write", arg: "<paths>", help: "with --sandbox: let it write these" },
  },
  {
    scope: "command",
    flag: { name: "allow-net", arg: "<hosts>", help: "with --sandbox: let it reach these hosts" },
  },
] as const satisfies readonly OptionSpec[];
