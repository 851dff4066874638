/**
 * `--resume` with `--output-dir`: the parts committed are kept in a journal
 * in the folder (`.crunch-journal`: a line for the run's identity, then a
 * line a batch of parts, each written once the parts are durable, with the
 * point in the input the run reached after them). A run stopped anyhow goes
 * on from the last point: the parts up to it are kept, any part committed
 * after it is removed (its task runs again), and the parts are numbered on.
 *
 * @module
 */

import { resolve } from "node:path";
import { CrunchError } from "../errors.ts";
import type { Checkpoint } from "../run/release.ts";
import type { OutputPart, PartsLog } from "../run/parts_pump.ts";
import { MANIFEST } from "../run/parts_pump.ts";
import { differences, type Identity, journalEntries, line } from "./journal.ts";
import { resumableIdentity, takeLock } from "./resume.ts";
import type { Command } from "./args.ts";

/** The journal's name in the folder. */
const JOURNAL = ".crunch-journal";

/** Where a resumable run into a folder starts: its log, and the point to go on from. */
export interface PartsStart {
  log: PartsLog;
  point?: Checkpoint;
  /** Releases the folder's lock. */
  unlock: () => void;
}

/** What the journal says: the identity, the parts up to the last point, that point, and whether complete. */
interface PartsState {
  identity: Identity;
  parts: OutputPart[];
  point?: Checkpoint;
  complete: boolean;
}

/** Reads the folder's journal; undefined when there is none. A torn last line is ignored. */
async function readParts(path: string, dir: string): Promise<PartsState | undefined> {
  const entries = await journalEntries(path, `remove ${dir} to start again`);
  if (entries === undefined) return undefined;
  const state: PartsState = {
    identity: entries[0].identity as Identity,
    parts: [],
    complete: false,
  };
  let pending: OutputPart[] = [];
  for (const entry of entries.slice(1)) {
    if (entry.kind === "complete") state.complete = true;
    if (entry.kind !== "parts") continue;
    pending.push(...entry.parts as OutputPart[]);
    // Parts count as kept only up to a point the run can go on from.
    if (entry.point) {
      state.parts.push(...pending);
      pending = [];
      state.point = entry.point as Checkpoint;
    }
  }
  return state;
}

/**
 * Reads (or starts) the journal of `command`'s folder: undefined when the
 * run it describes completed; else where to go on from, the folder made
 * to hold just the parts up to that point.
 */
export async function partsStart(command: Command): Promise<PartsStart | undefined> {
  const identity = { ...await resumableIdentity(command), outputDir: "parts" };
  const dir = resolve(command.options.outputDir!);
  await Deno.mkdir(dir, { recursive: true });
  const unlock = await takeLock(`${dir}/.crunch-lock`, dir);
  try {
    const path = `${dir}/${JOURNAL}`;
    const state = await readParts(path, dir);
    if (state) {
      const changed = differences(identity, state.identity);
      if (changed.length) {
        throw new CrunchError(
          `cannot resume: ${changed.join("; ")} ${changed.length === 1 ? "differs" : "differ"} ` +
            `from the run that wrote ${dir}; remove it to start again`,
        );
      }
      if (state.complete) {
        unlock();
        return undefined;
      }
      await keepOnly(dir, state.parts);
    }
    const parts = state?.parts ?? [];
    // The journal starts again with what is kept, whole: written beside it and renamed.
    const entries = [line({ kind: "start", identity })];
    if (parts.length) entries.push(line({ kind: "parts", parts, point: state!.point }));
    await Deno.writeTextFile(`${path}.new`, entries.join(""));
    await Deno.rename(`${path}.new`, path);
    const file = await Deno.open(path, { write: true, append: true });
    const append = async (entry: Record<string, unknown>) => {
      await file.write(new TextEncoder().encode(line(entry)));
      await file.syncData();
    };
    const log: PartsLog = {
      committed: parts,
      record: (batch, point) => append({ kind: "parts", parts: batch, point: point ?? null }),
      complete: async () => {
        await append({ kind: "complete" });
        file.close();
      },
    };
    return { log, point: state?.point, unlock };
  } catch (error) {
    unlock();
    throw error;
  }
}

/**
 * Removes the parts committed after the journal's last point and the
 * temporary files of the run that stopped; the kept parts must be as written.
 */
async function keepOnly(dir: string, parts: OutputPart[]): Promise<void> {
  const kept = new Map(parts.map((p) => [p.name, p]));
  for await (const entry of Deno.readDir(dir)) {
    const stale = (entry.name.startsWith("part-") || entry.name === MANIFEST) &&
      !kept.has(entry.name);
    // The temporary files of the run that stopped (its workers' parts not yet committed).
    const temp = /^\.crunch-[0-9a-f]{8}-/.test(entry.name);
    if (stale || temp) await Deno.remove(`${dir}/${entry.name}`);
  }
  for (const part of parts) {
    const size = await Deno.stat(`${dir}/${part.name}`).then((s) => s.size, () => undefined);
    if (size !== part.bytes) {
      throw new CrunchError(
        `cannot resume: ${dir}/${part.name} is ${
          size === undefined ? "gone" : `${size} bytes`
        }, the run wrote ${part.bytes}; remove ${dir} to start again`,
      );
    }
  }
}
