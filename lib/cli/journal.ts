/**
 * The journal of a resumable run (`--resume`): beside the output, a file of
 * JSON lines, each with its own checksum. The first says what the run is
 * (the input's identity, the module's and the spec's hashes, the options
 * that shape the output); each later one a point the run reached, written
 * only after the output and errors bytes before it were made durable; the
 * last, once the run ended cleanly, that it is complete.
 *
 * @module
 */

import { CrunchError } from "../errors.ts";
import type { Checkpoint } from "../run/release.ts";

/** What must not change between a run and its resumption. */
export type Identity = Record<string, unknown>;

/** A point the run reached: where to go on from, and what was written up to it. */
export interface Point extends Checkpoint {
  /** Bytes of the output up to this point. */
  out: number;
  /** Bytes of the errors file up to this point. */
  errorsBytes: number;
  /** FNV-1a of the output's bytes up to this point (a partial output changed in place shows). */
  outHash?: number;
  /** FNV-1a of the errors file's bytes up to this point. */
  errorsHash?: number;
}

/** FNV-1a over bytes written in pieces: the hash of everything so far. */
export class RunningHash {
  #h: number;

  /** Goes on from `state` (the hash of the bytes before). */
  constructor(state = 0x811c9dc5) {
    this.#h = state;
  }

  /** Adds `bytes`. */
  add(bytes: Uint8Array): void {
    let h = this.#h;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    this.#h = h;
  }

  /** The hash of every byte added. */
  get value(): number {
    return this.#h >>> 0;
  }
}

/** What a journal on disk says. */
export interface JournalState {
  identity: Identity;
  /** The last point reached, if any. */
  point?: Point;
  complete: boolean;
}

/** FNV-1a of `text`, as hex. */
export function fnv(text: string | Uint8Array): string {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** A journal line: `entry` with its check. */
export function line(entry: Record<string, unknown>): string {
  const body = JSON.stringify(entry);
  return JSON.stringify({ ...entry, check: fnv(body) }) + "\n";
}

/** The entry a journal line holds, or undefined when it is torn or corrupt. */
function entryOf(text: string): Record<string, unknown> | undefined {
  try {
    const { check, ...entry } = JSON.parse(text);
    return check === fnv(JSON.stringify(entry)) ? entry : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The entries of the journal at `path` (its first, "start"); undefined when
 * there is none. A torn last line (the run was killed while writing it) is
 * ignored; a corrupt line before it is a CrunchError: the journal cannot be
 * trusted, and `remedy` says what to do.
 */
export async function journalEntries(
  path: string,
  remedy = "remove it and the partial output beside it to start again",
): Promise<Record<string, unknown>[] | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const lines = text.split("\n");
  lines.pop(); // after the last newline: empty, or a torn write
  const entries = lines.map(entryOf);
  const bad = entries.findIndex((e) => e === undefined);
  if (bad !== -1 || entries.length === 0 || entries[0]!.kind !== "start") {
    throw new CrunchError(
      `the journal ${path} is corrupt (line ${bad === -1 ? 1 : bad + 1}): it cannot be trusted; ` +
        remedy,
    );
  }
  return entries as Record<string, unknown>[];
}

/** Reads the journal at `path` (see {@linkcode journalEntries}); undefined when there is none. */
export async function readJournal(path: string): Promise<JournalState | undefined> {
  const entries = await journalEntries(path);
  if (entries === undefined) return undefined;
  const state: JournalState = { identity: entries[0].identity as Identity, complete: false };
  for (const entry of entries.slice(1)) {
    if (entry.kind === "point") state.point = entry.point as Point;
    else if (entry.kind === "complete") state.complete = true;
  }
  return state;
}

/** The journal of a run being written. */
export class Journal {
  readonly #path: string;
  readonly #file: Deno.FsFile;

  private constructor(path: string, file: Deno.FsFile) {
    this.#path = path;
    this.#file = file;
  }

  /**
   * Starts a journal at `path` for a run of `identity` (replacing any there).
   * Its first line is written beside it and renamed into place: a run killed
   * while starting leaves the old journal or a whole new one, never a torn
   * first line (which would read as a corrupt journal).
   */
  static async create(path: string, identity: Identity): Promise<Journal> {
    const temp = `${path}.new`;
    const bytes = new TextEncoder().encode(line({ kind: "start", identity }));
    const fresh = await Deno.open(temp, { write: true, create: true, truncate: true });
    try {
      for (let at = 0; at < bytes.length;) at += await fresh.write(bytes.subarray(at));
      await fresh.syncData();
    } finally {
      fresh.close();
    }
    await Deno.rename(temp, path);
    return new Journal(path, await Deno.open(path, { write: true, append: true }));
  }

  /** Opens the journal at `path` to go on appending to it. */
  static async append(path: string): Promise<Journal> {
    const file = await Deno.open(path, { write: true, append: true });
    return new Journal(path, file);
  }

  /** Records that the run reached `point` (its output bytes already durable). */
  async point(point: Point): Promise<void> {
    await this.#append({ kind: "point", point });
  }

  /** Records that the run ended cleanly. */
  async complete(): Promise<void> {
    await this.#append({ kind: "complete" });
    this.#file.close();
  }

  /** Closes the journal, leaving it to resume from. */
  close(): void {
    try {
      this.#file.close();
    } catch {
      // closed already
    }
  }

  /** The journal's path. */
  get path(): string {
    return this.#path;
  }

  async #append(entry: Record<string, unknown>): Promise<void> {
    const bytes = new TextEncoder().encode(line(entry));
    for (let at = 0; at < bytes.length;) at += await this.#file.write(bytes.subarray(at));
    await this.#file.syncData();
  }
}

/** The keys of `a` and `b` whose values differ, as a sentence for a refusal. */
export function differences(a: Identity, b: Identity): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) =>
    `${k} (was ${JSON.stringify(b[k])}, now ${JSON.stringify(a[k])})`
  );
}
