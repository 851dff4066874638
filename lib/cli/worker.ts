/**
 * `crunch worker`: serve crunch runs from Redis on this machine's cores.
 *
 * @module
 */

import { serveRedis } from "../backends/redis/consumer.ts";
import { SIGNALS } from "./execute.ts";
import { choice, headers, integer } from "../options/kinds.ts";
import { parseLine, redisUrl, UsageError } from "./args.ts";
import { helpEntry } from "./help.ts";
import { readKeyFile, RunKey } from "../backends/redis/signing.ts";

/** The usage line of `crunch worker`. */
export const WORKER_USAGE = "usage: crunch worker --redis <url> [options]";

const WORKER_FLAGS: [flag: string, help: string][] = [
  [
    "    --redis <url>",
    "redis://[user[:password]@]host[:port][/db], or rediss:// (TLS; a private CA through " +
    "DENO_CERT=ca.pem); @file or env:NAME (env: CRUNCH_REDIS_URL) reads it from there",
  ],
  [
    "-w, --workers <n>",
    `workers in this process (default: ${navigator.hardwareConcurrency}, the cores)`,
  ],
  ["    --isolation <how>", "thread or process (default: what the coordinator asks for)"],
  [
    "    --allow-module <url>",
    "run only plug-ins whose URL starts with this (repeatable; default: modules under the " +
    "current folder, file://$PWD/); compared after .. and links are resolved",
  ],
  [
    "    --allow-input <path>",
    "read byte ranges only of inputs under this path or URL (repeatable; default: any input " +
    "the coordinator names, each checked to be the coordinator's file)",
  ],
  [
    "    --header <h>",
    "an HTTP header sent with every request of an http(s) input, as 'Name: value' " +
    "(repeatable; the coordinator's --header never reaches Redis)",
  ],
  [
    "    --key-file <file>",
    "run only runs signed with the key in <file> (default: CRUNCH_REDIS_KEY, or the file " +
    "CRUNCH_REDIS_KEY_FILE names, when set)",
  ],
  ["    --name <name>", "this worker's name in Redis (default: host-pid)"],
  [
    "    --heartbeat <ms>",
    "how long its heartbeat lasts unrenewed: the time others take to notice it died and run " +
    "its tasks again (default 5000)",
  ],
  ["-h, --help", "this help"],
];

const WORKER_HELP = `${WORKER_USAGE}

Takes the tasks of crunch runs (\`crunch --redis <url> ...\` or classify(..., { redis })) from
Redis Streams and runs them on this machine, run after run, until stopped. Ctrl-C (or SIGTERM)
finishes the tasks it holds, then leaves; a second Ctrl-C leaves at once (what it held is given
to another worker).

options:
${WORKER_FLAGS.map(([flag, help]) => helpEntry(`  ${flag}`, help)).join("\n")}`;

const OPTIONS = {
  redis: { type: "string" },
  workers: { type: "string", short: "w" },
  isolation: { type: "string" },
  "allow-module": { type: "string", multiple: true },
  "allow-input": { type: "string", multiple: true },
  header: { type: "string", multiple: true },
  "key-file": { type: "string" },
  name: { type: "string" },
  heartbeat: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** A module prefix as a URL: a path becomes a file:// URL ending in / for a folder. */
function prefixUrl(prefix: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(prefix)) return prefix;
  const absolute = prefix.startsWith("/") ? prefix : `${Deno.cwd()}/${prefix}`;
  let url = new URL(`file://${absolute}`).href;
  try {
    if (Deno.statSync(absolute).isDirectory && !url.endsWith("/")) url += "/";
  } catch {
    // not there (yet): taken as written
  }
  return url;
}

/** Runs `crunch worker` with `args`; resolves with its exit code. */
export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseLine(args, OPTIONS, false);
  if (values.help) {
    console.log(WORKER_HELP);
    return 0;
  }
  if (values.redis === undefined) throw new UsageError("missing --redis <url>");
  const url = redisUrl(values.redis);
  const isolation = values.isolation === undefined
    ? undefined
    : choice(["thread", "process"] as const).read("isolation", values.isolation);
  const workers = values.workers === undefined
    ? undefined
    : integer().read("workers", values.workers);
  const heartbeatMs = values.heartbeat === undefined
    ? undefined
    : integer().read("heartbeat", values.heartbeat);
  const key = values["key-file"] !== undefined
    ? await RunKey.from(await readKeyFile(values["key-file"]))
    : await RunKey.fromEnvironment();
  const controller = new AbortController();
  let stops = 0;
  const listeners = SIGNALS.map((signal) => {
    const listener = () => {
      // The first signal finishes what this process holds; a second one leaves at once.
      if (++stops > 1) Deno.exit(130);
      console.error("crunch worker: finishing the tasks it holds (again to leave at once)");
      controller.abort();
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  try {
    await serveRedis({
      url,
      workers,
      isolation,
      allowModules: values["allow-module"]?.map(prefixUrl),
      allowInputs: values["allow-input"],
      headers: values.header?.flatMap((h) => headers().read("header", h)),
      key,
      name: values.name,
      heartbeatMs,
      signal: controller.signal,
    });
    return 0;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

/** `crunch worker --help`'s text, for the README. */
export { WORKER_HELP };
