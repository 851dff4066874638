/**
 * `--resume`: what a resumable run is (its identity), where it goes on
 * from, and the refusals when it cannot.
 *
 * @module
 */

import denoConfig from "../../deno.json" with { type: "json" };
import { CrunchError } from "../errors.ts";
import { resolveModule } from "../backends/module_url.ts";
import { sniff, SNIFF_BYTES } from "../input/compression.ts";
import { type Command, UsageError } from "./args.ts";
import {
  differences,
  fnv,
  type Identity,
  Journal,
  type Point,
  readJournal,
  RunningHash,
} from "./journal.ts";
import type { OutputPlan } from "./sink.ts";
import { RemoteClient } from "../remote/client.ts";
import { isRemote, remoteObject, shown } from "../remote/location.ts";
import { RemoteSource } from "../input/remote_source.ts";

/** Bytes hashed at each end of the input for its identity. */
const EDGE_BYTES = 64 << 10;

/** Where a resumable run writes: its journal, its lock and its partial output and errors. */
export interface ResumePaths {
  journal: string;
  /** Held while a run writes the output: two resumable runs of one output at once are refused. */
  lock: string;
  partial: string;
  errorsPartial?: string;
}

/** The paths a resumable run with these outputs uses, beside them. */
export function resumePaths(output: OutputPlan, errors?: OutputPlan): ResumePaths {
  return {
    journal: `${output.target}.crunch-journal`,
    lock: `${output.target}.crunch-lock`,
    partial: `${output.target}.crunch-partial`,
    errorsPartial: errors && `${errors.target}.crunch-partial`,
  };
}

/** The hash of the bytes of `file` in `[at, at + length)`. */
async function hashAt(file: Deno.FsFile, at: number, length: number): Promise<string> {
  const bytes = new Uint8Array(length);
  await file.seek(at, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(bytes.subarray(got));
    if (n === null) break;
    got += n;
  }
  return fnv(bytes.subarray(0, got));
}

/**
 * An object behind a URL as a resumable run knows it: its name, its
 * version (size, ETag, Last-Modified) and a hash of its first bytes (which
 * also tell whether it is compressed).
 */
async function remoteIdentity(
  command: Command,
): Promise<{ input: Record<string, unknown>; head: Uint8Array }> {
  const name = command.input!;
  const client = new RemoteClient({
    headers: command.options.headers as [string, string][] | undefined,
    timeoutMs: command.options.httpTimeout,
  });
  // One request: the first bytes, and the version the response describes.
  const source = await RemoteSource.open(client, remoteObject(name), EDGE_BYTES);
  const bytes = new Uint8Array(EDGE_BYTES);
  let got = 0;
  try {
    while (got < bytes.length) {
      const n = await source.read(bytes.subarray(got));
      if (n === null) break;
      got += n;
    }
  } finally {
    source.close();
  }
  const { version } = source;
  const head = bytes.subarray(0, got);
  const input = {
    url: shown(name),
    size: version.size ?? null,
    etag: version.etag ?? null,
    modified: version.modified ?? null,
    head: fnv(head),
  };
  return { input, head };
}

/**
 * What must not change between a run and its resumption, for `command`;
 * `input` is its input's part when the caller has it already.
 */
export async function identityOf(
  command: Command,
  input?: Record<string, unknown>,
): Promise<Identity> {
  input ??= isRemote(command.input!)
    ? (await remoteIdentity(command)).input
    : await fileIdentity(command.input!);
  const { options } = command;
  const url = await resolveModule(command.module);
  let module: string = url;
  if (url.startsWith("file:")) module = `${url} ${fnv(await Deno.readFile(new URL(url)))}`;
  return {
    input,
    module,
    spec: fnv(JSON.stringify(options.spec ?? null)),
    format: options.format ?? null,
    to: options.encode,
    tagged: options.tagged ?? false,
    delimiter: options.delimiter ?? null,
    header: options.header ?? true,
    columns: options.columns ?? null,
    onError: options.onError === "skip" ? "skip" : "fail",
    errors: command.errors !== undefined,
    crunch: denoConfig.version,
  };
}

/** A file as a resumable run knows it: its path, size, modification time and the hashes of its ends. */
async function fileIdentity(given: string): Promise<Record<string, unknown>> {
  const path = await Deno.realPath(given);
  const file = await Deno.open(path, { read: true });
  let input: Record<string, unknown>;
  try {
    const info = await file.stat();
    const size = info.size;
    input = {
      path,
      size,
      modified: info.mtime?.getTime() ?? null,
      head: await hashAt(file, 0, Math.min(size, EDGE_BYTES)),
      tail: await hashAt(file, Math.max(0, size - EDGE_BYTES), Math.min(size, EDGE_BYTES)),
    };
  } finally {
    file.close();
  }
  return input;
}

/** Where a resumable run starts: afresh, from a point, or nowhere (it is complete). */
export type ResumeStart =
  | { kind: "fresh"; journal: Journal }
  | { kind: "point"; journal: Journal; point: Point }
  | { kind: "complete" };

/**
 * The identity of a run `command` can resume: one input, read from a byte
 * offset (not compressed); a UsageError otherwise.
 */
export async function resumableIdentity(command: Command): Promise<Identity> {
  if (command.input === undefined || command.files !== undefined) {
    throw new UsageError(
      "--resume needs one input file: standard input, a stream or several files cannot be " +
        "read again from where a run stopped",
    );
  }
  let first: Uint8Array;
  const remote = isRemote(command.input) ? await remoteIdentity(command) : undefined;
  if (remote) first = remote.head;
  else {
    first = new Uint8Array(SNIFF_BYTES);
    const file = await Deno.open(command.input, { read: true });
    const got = await file.read(first).finally(() => file.close());
    first = first.subarray(0, got ?? 0);
  }
  const compression = sniff(first.subarray(0, SNIFF_BYTES));
  if (compression !== undefined) {
    throw new UsageError(
      `--resume goes on from a byte offset of the input, which a ${compression} file does not ` +
        `have: decompress ${command.input} first (the run then reads it as fast), or run without --resume`,
    );
  }
  return await identityOf(command, remote?.input);
}

/** Reads the journal (if any), checks it against `command`, and says where to start. */
export async function resumeStart(command: Command, paths: ResumePaths): Promise<ResumeStart> {
  const identity = await resumableIdentity(command);
  const state = await readJournal(paths.journal);
  if (state === undefined) {
    return { kind: "fresh", journal: await Journal.create(paths.journal, identity) };
  }
  const changed = differences(identity, state.identity);
  if (changed.length) {
    throw new CrunchError(
      `cannot resume: ${changed.join("; ")} ${changed.length === 1 ? "differs" : "differ"} ` +
        `from the run that wrote ${paths.journal}. Run without --resume to start again (it ` +
        `replaces ${command.output})`,
    );
  }
  if (state.complete) return { kind: "complete" };
  const point = state.point;
  if (point === undefined) {
    return { kind: "fresh", journal: await Journal.create(paths.journal, identity) };
  }
  await checkPrefix(paths.partial, point.out, point.outHash);
  if (paths.errorsPartial) {
    await checkPrefix(paths.errorsPartial, point.errorsBytes, point.errorsHash);
  }
  return { kind: "point", journal: await Journal.append(paths.journal), point };
}

/**
 * A partial file must hold at least what the journal says was written
 * durably, and those bytes as they were written (their hash).
 */
async function checkPrefix(path: string, bytes: number, hash: number | undefined): Promise<void> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  try {
    const size = file ? (await file.stat()).size : 0;
    if (size < bytes) {
      throw new CrunchError(
        `cannot resume: ${path} holds ${size} bytes, but the journal says ${bytes} were written: ` +
          "it was truncated or replaced. Run without --resume to start again",
      );
    }
    if (hash === undefined || bytes === 0) return;
    const running = new RunningHash();
    const buffer = new Uint8Array(1 << 20);
    for (let at = 0; at < bytes;) {
      const n = await file!.read(buffer.subarray(0, Math.min(buffer.length, bytes - at)));
      if (n === null) break;
      running.add(buffer.subarray(0, n));
      at += n;
    }
    if (running.value !== hash) {
      throw new CrunchError(
        `cannot resume: the first ${bytes} bytes of ${path} are not those the run wrote (they ` +
          "were changed since). Run without --resume to start again",
      );
    }
  } finally {
    file?.close();
  }
}

/** Whether process `pid` runs on this machine (Linux's /proc; true where that cannot be told). */
function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.NotFound);
  }
}

/**
 * Takes the lock of a resumable run's output: a CrunchError naming who holds
 * it when another run on this machine does; a lock whose process is gone
 * (killed) is taken over. Resolves with its release.
 */
export async function takeLock(path: string, output: string): Promise<() => void> {
  const mine = JSON.stringify({ pid: Deno.pid, host: hostname(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(path, mine, { createNew: true });
      return () => {
        try {
          if (Deno.readTextFileSync(path) === mine) Deno.removeSync(path);
        } catch {
          // gone already
        }
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    let holder: { pid?: number; host?: string; since?: string } = {};
    try {
      holder = JSON.parse(await Deno.readTextFile(path));
    } catch {
      // torn: a run killed while taking it
    }
    if (holder.pid !== undefined && holder.host === hostname() && alive(holder.pid)) {
      throw new CrunchError(
        `another crunch --resume run (pid ${holder.pid}, since ${holder.since}) is writing ` +
          `${output}: wait for it to end, or stop it, then run this again`,
      );
    }
    await Deno.remove(path).catch(() => {}); // its process is gone: a stale lock
  }
  throw new CrunchError(`cannot take the lock ${path} of ${output}: another run keeps taking it`);
}

/** This machine's name, where it may be read. */
function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

/** Removes what an earlier resumable run left beside `output`, once a plain run replaced it. */
export async function removeStale(paths: ResumePaths): Promise<void> {
  // A journal's first line written beside it, by a run killed before it was renamed into place.
  const started = `${paths.journal}.new`;
  for (const path of [paths.journal, started, paths.partial, paths.errorsPartial]) {
    if (path === undefined) continue;
    try {
      await Deno.remove(path);
    } catch {
      // not there
    }
  }
}
