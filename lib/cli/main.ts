/**
 * The crunch command: run a classifier over a file from the shell.
 *
 * ```sh
 * deno run -A jsr:@crunch/crunch/cli [options] <module> [input]
 * ```
 *
 * @module
 */

import { stripAnsi } from "../checks.ts";
import { type Command, parse, USAGE, UsageError } from "./args.ts";
import { CONFIG_ENV, configNeeded } from "../backends/plugin_config.ts";
import { resolveModule } from "../backends/module_url.ts";
import { execute, Interrupted, isBrokenPipe, SIGNALS } from "./execute.ts";
import { WORKER_OPTIONS_FLAG, workerOptionsEnabled } from "../backends/local/sandbox.ts";
import { WORKER_USAGE, workerCommand } from "./worker.ts";

/** Why the command runs itself again: a feature sandboxed threads need, a plug-in's config. */
interface Relaunch {
  /** Deno's worker-options feature, which sandboxed threads need. */
  workerOptions?: boolean;
  /** The plug-in's `deno.json`, whose import map its threads need. */
  config?: string;
}

/**
 * Runs the command again in a Deno with what `how` asks for; standard
 * input, output and error pass through.
 */
async function relaunch(args: string[], how: Relaunch): Promise<number> {
  const flags = ["run", "-A"];
  if (how.workerOptions) flags.push(WORKER_OPTIONS_FLAG);
  if (how.config !== undefined) flags.push("--config", how.config);
  const child = new Deno.Command(Deno.execPath(), {
    args: [...flags, import.meta.url, ...args],
    env: {
      [PARENT]: String(Deno.pid),
      ...(how.config !== undefined ? { [CONFIG_ENV]: how.config } : {}),
    },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // The child ends the run (and removes its temporary file) on these signals: pass them on and
  // wait for it, so that nothing of it outlives this process.
  const forward = SIGNALS.map((signal) => {
    const listener = () => {
      try {
        child.kill(signal);
      } catch {
        // it has ended
      }
    };
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  try {
    const status = await child.status;
    return status.signal ? 128 + signalNumber(status.signal) : status.code;
  } finally {
    for (const [signal, listener] of forward) Deno.removeSignalListener(signal, listener);
  }
}

/** The environment variable a relaunched command learns its parent's pid from. */
const PARENT = "CRUNCH_PARENT_PID";

/**
 * A relaunched command (a sandbox) ends as if interrupted when the process
 * that started it is gone, however it went (SIGKILL sends no signal on):
 * nothing of a run outlives the command the user started.
 */
function dieWithParent(): void {
  let parent: number;
  try {
    parent = Number(Deno.env.get(PARENT));
  } catch {
    return;
  }
  if (!(parent > 1)) return;
  const timer = setInterval(() => {
    if (Deno.ppid === parent) return;
    clearInterval(timer);
    Deno.kill(Deno.pid, "SIGTERM"); // the run stops and removes its temporary file
  }, 200);
  Deno.unrefTimer(timer);
}

/**
 * Under `deno task crunch`, the task runs in crunch's own folder while the
 * user's paths (module, input, spec, output) are relative to the folder they
 * ran it in, which deno task passes as INIT_CWD: go there. Only when this
 * process runs in crunch's folder, so an INIT_CWD left by an outer npm or
 * deno task means nothing to a crunch started elsewhere.
 */
function fromUserFolder(): void {
  try {
    const from = Deno.env.get("INIT_CWD");
    if (!from || from === Deno.cwd()) return;
    const home = new URL("../..", import.meta.url);
    if (home.protocol !== "file:" || Deno.realPathSync(Deno.cwd()) !== Deno.realPathSync(home)) {
      return;
    }
    Deno.chdir(from);
  } catch {
    // no permission to read the environment, or the folder is gone: stay
  }
}

/**
 * Whether the command must run itself again, and how: sandboxed threads need
 * the worker-options feature (worker processes get flags instead); threads
 * share this process's import map, which must map the plug-in's imports as
 * its own `deno.json` does (worker processes run under that config; through
 * Redis this process never loads the plug-in).
 */
async function relaunchFor(command: Command): Promise<Relaunch | undefined> {
  const { permissions, isolation, redis } = command.options;
  if (isolation === "process" || redis !== undefined) return undefined;
  const workerOptions = permissions !== undefined && workerOptionsEnabled() === false;
  let config: string | undefined;
  try {
    config = configNeeded(await resolveModule(command.module));
  } catch {
    // a module that is not there: the run says so
  }
  return workerOptions || config !== undefined ? { workerOptions, config } : undefined;
}

/** The number of a signal, for the shell's exit code (128 + n). */
function signalNumber(signal: Deno.Signal): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal as string] ?? 0;
}

/**
 * Runs the crunch command with `args` and resolves with its exit code:
 * 0 on success, 1 when the run failed, 2 for a usage error, and 128 plus
 * the signal's number when SIGINT (130), SIGTERM (143) or SIGHUP (129)
 * ended it.
 *
 * @example
 * ```ts
 * import { main } from "@crunch/crunch/cli";
 * import assert from "node:assert/strict";
 * // The results go to standard output, a summary to standard error.
 * const code = await main(["-s", '{"words": ["good"]}', "examples/hits.ts", "examples/reviews.csv"]);
 * assert.equal(code, 0);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let debug = args.includes("--debug");
  fromUserFolder();
  dieWithParent();
  try {
    // Not relaunched: a run that asks for sandboxed threads gets worker processes there instead.
    if (args[0] === "worker") return await workerCommand(args.slice(1));
    const command = await parse(args);
    if (command === null) return 0;
    debug = command.debug;
    const how = await relaunchFor(command);
    if (how !== undefined) return await relaunch(args, how);
    return await execute(command);
  } catch (error) {
    if (error instanceof UsageError) {
      const [usage, help] = args[0] === "worker"
        ? [WORKER_USAGE, "crunch worker --help"]
        : [USAGE, "crunch --help"];
      console.error(`crunch: ${error.message}\n${usage}\nTry '${help}' for more.`);
      return 2;
    }
    if (isBrokenPipe(error)) return 0;
    if (error instanceof Interrupted) {
      console.error(`crunch: ${error.message}`);
      return 128 + signalNumber(error.signal);
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`crunch: error: ${Deno.stderr.isTerminal() ? message : stripAnsi(message)}`);
    if (debug && error instanceof Error) {
      console.error(error.stack);
      if (error.cause instanceof Error) console.error("caused by:", error.cause.stack);
    }
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
