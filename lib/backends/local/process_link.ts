/**
 * Workers as processes of their own (`deno run workers/entry_process.ts`), talking
 * over their standard input and output in length-prefixed frames. Dearer to
 * start and to talk to than Web Workers, but each process's death is its
 * own: a plug-in that runs out of memory, or that is stuck in a synchronous
 * loop past the timeout, ends (or is killed) alone, and the run goes on.
 *
 * @module
 */

import { CrunchError } from "../../errors.ts";
import { encodeFrame, FrameReader } from "../../wire/frames.ts";
import type { FromWorker, ToWorker } from "../../wire/protocol.ts";
import type { LinkEvents, Links, WorkerLink } from "./link.ts";
import { writeStderr } from "../../stderr.ts";

const WORKER_PROCESS_URL = new URL("../../../workers/entry_process.ts", import.meta.url);

/** The permission kinds of `deno run`. */
const KINDS = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;

/** How worker processes are started. */
export interface ProcessOptions {
  /** The plug-in's own files (its module and what it imports): a sandbox lets it read them. */
  files: string[];
  /** Deno permissions of the processes; by default those this process has. */
  permissions?: Deno.PermissionOptions;
  /** Heap limit of each process in MB (V8's --max-old-space-size). */
  maxWorkerMemory?: number;
  /** The config that maps the plug-in's imports (its nearest `deno.json`), if any. */
  config?: string;
}

/** Links to worker processes. */
export function processLinks(options: ProcessOptions): Links {
  const args = [
    "run",
    "--quiet",
    "--no-prompt",
    ...permissionFlags(options.files, options.permissions),
  ];
  if (options.maxWorkerMemory !== undefined) {
    args.push(`--v8-flags=--max-old-space-size=${options.maxWorkerMemory}`);
  }
  // The plug-in's bare imports resolve as in its own folder.
  if (options.config !== undefined) args.push("--config", options.config);
  args.push(WORKER_PROCESS_URL.href);
  return {
    carries: { sharedMemory: false, transfer: false },
    start: (index, events) => new ProcessLink(index, args, events, options.maxWorkerMemory),
  };
}

function granted(kind: (typeof KINDS)[number]): boolean {
  try {
    return Deno.permissions.querySync({ name: kind } as Deno.PermissionDescriptor).state ===
      "granted";
  } catch {
    return false;
  }
}

/** The `deno run` flags that give a worker process `permissions` (and its plug-in's own files). */
export function permissionFlags(files: string[], permissions?: Deno.PermissionOptions): string[] {
  const flags: string[] = [];
  const allow = (kind: string, value: boolean | string[] | "inherit" | undefined) => {
    if (value === "inherit") value = granted(kind as (typeof KINDS)[number]);
    if (kind === "read" && files.length && value !== true) {
      value = [...(Array.isArray(value) ? value : []), ...files];
    }
    if (value === true) flags.push(`--allow-${kind}`);
    else if (Array.isArray(value) && value.length) flags.push(`--allow-${kind}=${value.join(",")}`);
  };
  if (permissions === undefined || permissions === "inherit") {
    if (KINDS.every(granted)) return ["--allow-all"];
    for (const kind of KINDS) allow(kind, "inherit");
    return flags;
  }
  const given = (permissions === "none" ? {} : permissions) as Record<string, unknown>;
  for (const kind of KINDS) {
    allow(kind, given[kind] as boolean | string[] | "inherit" | undefined);
  }
  return flags;
}

/** Bytes of a worker process's standard error kept, to say why it died. */
const TAIL_BYTES = 4096;

class ProcessLink implements WorkerLink {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #terminated = false;
  #tail = "";

  constructor(index: number, args: string[], events: LinkEvents, memory?: number) {
    try {
      this.#child = new Deno.Command(Deno.execPath(), {
        args,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new CrunchError(
        `cannot start worker process ${index}: ${(error as Error).message} ` +
          `(isolation "process" needs permission to run ${Deno.execPath()}: --allow-run)`,
        { cause: error },
      );
    }
    this.#writer = this.#child.stdin.getWriter();
    const reading = this.#read(events);
    const forwarding = this.#forwardStderr();
    this.exited = Promise.all([reading, forwarding, this.#child.status]).then(([, , status]) => {
      if (this.#terminated) return;
      this.#terminated = true;
      events.died(this.#why(status, memory));
    });
  }

  /** Resolves once the process has ended and its pipes are read to their end. */
  readonly exited: Promise<void>;

  async #read(events: LinkEvents): Promise<void> {
    const frames = new FrameReader();
    try {
      for await (const bytes of this.#child.stdout) {
        for (const message of frames.push(bytes)) {
          if (!this.#terminated) events.message(message as FromWorker);
        }
      }
    } catch {
      // the process is gone; its status says how
    }
  }

  /**
   * Passes the process's standard error on (the plug-in's console), keeping
   * its tail; V8's crash report after an out-of-memory (a page of stack
   * frames per death, and bisection may need a dozen) is kept but not passed on.
   */
  async #forwardStderr(): Promise<void> {
    const decoder = new TextDecoder();
    let crashing = false;
    try {
      for await (const bytes of this.#child.stderr) {
        let text = decoder.decode(bytes, { stream: true });
        this.#tail = (this.#tail + text).slice(-TAIL_BYTES);
        if (crashing) continue;
        const crash = text.search(/\n?#?\s*Fatal JavaScript|\n<--- Last few GCs/);
        if (crash !== -1) {
          crashing = true;
          text = text.slice(0, crash);
        }
        if (text) writeStderr(text); // a closed standard error: the tail still says why it died
      }
    } catch {
      // the process is gone
    }
  }

  #why(status: Deno.CommandStatus, memory?: number): string {
    const how = status.signal
      ? `the worker process was killed by ${status.signal} (exit code ${status.code})`
      : `the worker process exited with code ${status.code}`;
    if (/out of memory|heap limit/i.test(this.#tail)) {
      const limit = memory === undefined ? "" : ` (maxWorkerMemory: ${memory} MB)`;
      return `${how}: it ran out of memory${limit}`;
    }
    const last = this.#tail.trim().split("\n").pop();
    return last ? `${how}; its last words: ${last.slice(0, 300)}` : how;
  }

  post(message: ToWorker): void {
    if (this.#terminated) return;
    for (const part of encodeFrame(message)) {
      this.#writer.write(part).catch(() => {
        // the process is gone; its status says how
      });
    }
  }

  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#writer.close().catch(() => {});
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already ended
    }
  }
}
