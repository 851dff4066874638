/**
 * Where the command writes a document (results, or the errors file):
 * standard output, or a path the user named. A regular file (or a path that
 * does not exist yet) is written to a temporary file beside it and renamed
 * into place only when the run succeeds, with the target's mode kept, so it
 * is written whole or not at all. A symbolic link is written through, to its
 * target. Anything else the path names (a device such as /dev/null, a FIFO,
 * a socket) is written to directly, never replaced.
 *
 * @module
 */

import { RunningHash } from "./journal.ts";
import { basename, dirname, resolve } from "node:path";
import { CrunchError } from "../errors.ts";
import { FlagError } from "../options/kinds.ts";

/** The part of a file the sink writes to. */
interface Writable {
  write(bytes: Uint8Array): Promise<number>;
  writeSync(bytes: Uint8Array): number;
  close(): void;
  syncData?(): Promise<void>;
}

/** What a path given for output turned out to be, checked before the run starts. */
export interface OutputPlan {
  /** The path as the user gave it, for messages. */
  given: string;
  /** The file that is written in the end (a symbolic link's target). */
  target: string;
  /** How it is written. */
  how: "replace" | "direct";
  /** The target's permission bits, when it exists. */
  mode?: number;
}

/** Checks where `path` leads, before anything is run or written. */
export async function planOutput(path: string, what: string): Promise<OutputPlan> {
  let target = resolve(path);
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(target); // follows a symbolic link to what it points at
    target = await Deno.realPath(target);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new CrunchError(`cannot write ${what} ${path}: ${(error as Error).message}`);
    }
  }
  if (info?.isDirectory) {
    throw new FlagError(`cannot write ${what} ${path}: it is a directory`);
  }
  if (info !== undefined && !info.isFile) return { given: path, target, how: "direct" };
  const folder = dirname(target);
  try {
    const dir = await Deno.stat(folder);
    if (!dir.isDirectory) throw new Error(`${folder} is not a directory`);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? `the folder ${folder} does not exist`
      : (error as Error).message;
    throw new CrunchError(`cannot write ${what} ${path}: ${why}`);
  }
  const mode = info?.mode === null || info?.mode === undefined ? undefined : info.mode & 0o7777;
  return { given: path, target, how: "replace", mode };
}

/** The temporary file a replaced target is written to. */
export function tempPathOf(target: string): string {
  return `${dirname(target)}/.${basename(target)}.${Deno.pid}.crunch-tmp`;
}

/**
 * Whether process `pid` is alive: undefined where this system cannot say (no
 * /proc). A zombie (ended, not yet reaped by its parent) is gone.
 */
function alive(pid: number): boolean | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    try {
      Deno.statSync("/proc/self");
      return false;
    } catch {
      return undefined;
    }
  }
}

/** A temporary file an earlier run left beside its target. */
export interface StaleTemp {
  path: string;
  /** The process that wrote it, which is gone. */
  pid: number;
  bytes: number;
}

/**
 * Removes the temporary files beside `plan`'s target that runs killed
 * before they could clean up left behind (SIGKILL, a lost machine): those
 * whose process is gone. One whose process still runs (another run writing
 * the same file) is left alone, as is everything where this system cannot
 * tell (no /proc).
 */
export async function removeStaleTemps(plan: OutputPlan): Promise<StaleTemp[]> {
  if (plan.how !== "replace") return [];
  const folder = dirname(plan.target);
  const prefix = `.${basename(plan.target)}.`;
  const removed: StaleTemp[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (!entry.isFile || !entry.name.startsWith(prefix)) continue;
      const pid = Number(/^(\d+)\.crunch-tmp$/.exec(entry.name.slice(prefix.length))?.[1]);
      if (!(pid > 0) || pid === Deno.pid || alive(pid) !== false) continue;
      const path = `${folder}/${entry.name}`;
      try {
        const { size } = await Deno.stat(path);
        await Deno.remove(path);
        removed.push({ path, pid, bytes: size });
      } catch {
        // gone already, or not ours to remove: left
      }
    }
  } catch {
    // the folder cannot be listed: nothing to clean
  }
  return removed;
}

/** The hash of the first `bytes` bytes of the file at `path`. */
async function prefixHash(path: string, bytes: number): Promise<number> {
  using file = await Deno.open(path, { read: true });
  const running = new RunningHash();
  const buffer = new Uint8Array(1 << 20);
  for (let at = 0; at < bytes;) {
    const n = await file.read(buffer.subarray(0, Math.min(buffer.length, bytes - at)));
    if (n === null) break;
    running.add(buffer.subarray(0, n));
    at += n;
  }
  return running.value;
}

/** A document being written. */
export class Sink {
  readonly #file: Writable;
  readonly #plan: OutputPlan | undefined;
  #temp: string | undefined;
  /** A resumable run's file: kept when the run fails. */
  #keep = false;
  #written = 0;
  /** A resumable run's: the hash of every byte of the file so far. */
  #hash: RunningHash | undefined;
  /** A memory sink's bytes. */
  #captured: Uint8Array[] | undefined;

  private constructor(file: Writable, plan?: OutputPlan, temp?: string) {
    this.#file = file;
    this.#plan = plan;
    this.#temp = temp;
  }

  /** Standard output. */
  static stdout(): Sink {
    return new Sink(Deno.stdout);
  }

  /** A document kept in memory ({@linkcode Sink.captured}): results to be merged before writing. */
  static memory(): Sink {
    const chunks: Uint8Array[] = [];
    const keep = (bytes: Uint8Array) => {
      chunks.push(bytes.slice());
      return bytes.length;
    };
    const sink = new Sink({ write: (b) => Promise.resolve(keep(b)), writeSync: keep, close() {} });
    sink.#captured = chunks;
    return sink;
  }

  /** What a memory sink holds. */
  get captured(): Uint8Array[] {
    return this.#captured ?? [];
  }

  /** Opens the file that `plan` names. */
  static async open(plan: OutputPlan, what: string): Promise<Sink> {
    try {
      if (plan.how === "direct") {
        return new Sink(await Deno.open(plan.target, { write: true }), plan);
      }
      const temp = tempPathOf(plan.target);
      const file = await Deno.open(temp, {
        write: true,
        create: true,
        truncate: true,
        mode: plan.mode ?? 0o666,
      });
      // The umask narrowed the mode of the new file: the target's own mode is kept exactly.
      if (plan.mode !== undefined) await Deno.chmod(temp, plan.mode);
      return new Sink(file, plan, temp);
    } catch (error) {
      throw new CrunchError(`cannot write ${what} ${plan.given}: ${(error as Error).message}`);
    }
  }

  /** Writes all of `bytes`; a failure names the user's path. */
  async write(bytes: Uint8Array): Promise<void> {
    try {
      let at = 0;
      while (at < bytes.length) at += await this.#file.write(bytes.subarray(at));
      this.#written += bytes.length;
      this.#hash?.add(bytes);
    } catch (error) {
      if (this.#plan === undefined) throw error; // standard output: a closed pipe, say
      throw new CrunchError(`cannot write ${this.#plan.given}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Writes all of `bytes` at once (for the errors file, written as errors come). */
  writeSync(bytes: Uint8Array): void {
    try {
      for (let at = 0; at < bytes.length;) at += this.#file.writeSync(bytes.subarray(at));
      this.#written += bytes.length;
      this.#hash?.add(bytes);
    } catch (error) {
      throw new CrunchError(
        `cannot write ${this.#plan?.given ?? "standard output"}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * A sink for a run that can be resumed: it writes `partial` (kept when the
   * run fails, to go on from), truncated to `keep` bytes first (whose hash
   * is `hash`), and renames it to the target on commit.
   */
  static async resumable(
    plan: OutputPlan,
    partial: string,
    keep: number,
    hash?: number,
  ): Promise<Sink> {
    if (plan.how !== "replace") {
      throw new FlagError(
        `--resume writes ${plan.given} through a file beside it: give a regular file`,
      );
    }
    const file = await Deno.open(partial, { write: true, create: true, mode: plan.mode ?? 0o666 });
    await file.truncate(keep);
    await file.seek(keep, Deno.SeekMode.Start);
    const sink = new Sink(file, plan, partial);
    sink.#keep = true;
    sink.#written = keep;
    sink.#hash = new RunningHash(keep === 0 ? undefined : hash ?? await prefixHash(partial, keep));
    return sink;
  }

  /** The hash of everything in the document so far (resumable sinks). */
  get hash(): number | undefined {
    return this.#hash?.value;
  }

  /** Bytes in the document so far (resumable sinks). */
  get written(): number {
    return this.#written;
  }

  /** Makes what was written durable (resumable sinks). */
  async sync(): Promise<void> {
    await this.#file.syncData?.();
  }

  /** Keeps the document (renames the temporary file into place). */
  async commit(): Promise<void> {
    if (this.#plan === undefined) return;
    this.#file.close();
    if (this.#temp !== undefined) {
      await Deno.rename(this.#temp, this.#plan.target);
      this.#temp = undefined;
    }
  }

  /** Drops a partial document: the temporary file goes, the target is left as it was. */
  discard(): void {
    if (this.#plan === undefined) return;
    if (this.#keep) {
      // What a resumable run wrote stays, for --resume to go on from.
      try {
        this.#file.close();
      } catch {
        // already closed
      }
      return;
    }
    try {
      this.#file.close();
    } catch {
      // already closed
    }
    if (this.#temp !== undefined) {
      try {
        Deno.removeSync(this.#temp);
      } catch {
        // already gone
      }
      this.#temp = undefined;
    }
  }
}
