/**
 * What a `crunch worker` checks before it runs anything a run in Redis asks
 * for: that the plug-in lies under a prefix it was allowed (compared as a
 * normalized URL and, for files, by real path, so `..` segments and symbolic
 * links do not lead out), that the plug-in's source here hashes as the
 * coordinator's did, and that a range run's input here is the coordinator's
 * file. Each check answers with the reason it refuses, or undefined.
 *
 * @module
 */

import { fileURLToPath, pathToFileURL } from "node:url";
import { fingerprintOf } from "../../wire/fingerprint.ts";
import { isRemote, shown } from "../../remote/location.ts";
import type { Fingerprint } from "../../wire/fingerprint.ts";
import type { Task } from "../backend.ts";
import type { RunKey } from "./signing.ts";
import { moduleHash } from "./wire.ts";

/** The default allow-list: modules under `cwd` (as a folder URL ending in `/`). */
export function defaultAllow(cwd: string): string[] {
  return [pathToFileURL(cwd.replace(/\/?$/, "/")).href.replace(/\/?$/, "/")];
}

/**
 * `url` as it will be imported: normalized (no `.` or `..` segments), and a
 * file URL by its real path (symbolic links followed). Throws for a URL with
 * encoded dot segments or separators, which no honest coordinator sends.
 */
export function canonicalModule(url: string): string {
  if (/%2e|%2f|%5c/i.test(url)) {
    throw new Error("its URL holds encoded dots or slashes");
  }
  const parsed = new URL(url);
  if (parsed.protocol !== "file:") return parsed.href;
  let path = fileURLToPath(parsed);
  try {
    path = Deno.realPathSync(path);
  } catch {
    // not there: the hash check says so
  }
  return pathToFileURL(path).href;
}

/** A prefix as a URL to compare with: a folder's real path for a file URL. */
export function canonicalPrefix(prefix: string): string {
  const parsed = new URL(prefix);
  if (parsed.protocol !== "file:") return parsed.href;
  const folder = prefix.endsWith("/");
  let path = fileURLToPath(parsed);
  try {
    path = Deno.realPathSync(path);
  } catch {
    // not there (yet): taken as written
  }
  const href = pathToFileURL(path).href;
  return folder && !href.endsWith("/") ? `${href}/` : href;
}

/** Why `module` may not run under the allow-list `allow`, if it may not. */
export function moduleNotAllowed(module: string, allow: string[]): string | undefined {
  let canonical: string;
  try {
    canonical = canonicalModule(module);
  } catch (error) {
    return `the module ${module} is refused: ${(error as Error).message}`;
  }
  if (allow.some((prefix) => canonical.startsWith(canonicalPrefix(prefix)))) return undefined;
  return `the module ${module} is not under an allowed prefix (${
    allow.join(", ")
  }); start the worker with --allow-module <prefix>`;
}

/** Why the plug-in at `module` here is not the one the coordinator hashed as `expected`. */
export async function moduleMismatch(
  module: string,
  expected: string,
): Promise<string | undefined> {
  let hash: string;
  try {
    hash = await moduleHash(module);
  } catch (error) {
    return `cannot read the module ${module} here: ${(error as Error).message}`;
  }
  if (hash === expected) return undefined;
  return `the module ${module} here is not the coordinator's (sha256 ${hash.slice(0, 12)} here, ${
    expected.slice(0, 12)
  } there)`;
}

/** Why this process cannot read the input of a range run as the coordinator does, if it cannot. */
export async function inputMismatch(
  path: string,
  expected: Fingerprint | undefined,
): Promise<string | undefined> {
  try {
    using file = await Deno.open(path);
    const print = fingerprintOf(file);
    if (expected && (print.size < expected.size || print.head !== expected.head)) {
      return `the input ${path} here is not the coordinator's file (size ${print.size} here, ` +
        `${expected.size} there); run the coordinator with --reader main to send the records ` +
        "through Redis";
    }
    return undefined;
  } catch (error) {
    return `cannot read the input ${path} here (${(error as Error).message}): put it where ` +
      "every worker sees it at the same path, or run the coordinator with --reader main to " +
      "send the records through Redis";
  }
}

/** SHA-256, hex, of `bytes`: a key for what a run carries, whatever its size. */
export async function digest(bytes: Uint8Array): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Real path prefixes (folders end in `/`) of the inputs a worker may read. */
function inputPrefixes(allow: string[]): string[] {
  return allow.map((prefix) => {
    let path = prefix.startsWith("file:") ? fileURLToPath(prefix) : prefix;
    const folder = path.endsWith("/");
    try {
      path = Deno.realPathSync(path);
    } catch {
      // not there (yet): taken as written
    }
    return folder && !path.endsWith("/") ? `${path}/` : path;
  });
}

/**
 * What a `crunch worker` checks of every run and every task before it runs
 * them: the signature of both when it holds the run key, and for each byte
 * range that its input is one it may read (under `--allow-input`, when
 * given) and is the coordinator's file (a range without the file's identity
 * is refused: a forged task cannot make it read what it likes).
 */
export class TaskGuard {
  readonly #key: RunKey | undefined;
  readonly #inputs: string[] | undefined;
  /** The URL prefixes --allow-input gives, when it is given. */
  readonly #urls: string[] | undefined;
  /** Inputs found to be the coordinator's: path to fingerprint. */
  readonly #checked = new Map<string, string>();

  /** Checks with `key` (signatures) and `allowInputs` (path and URL prefixes), each when given. */
  constructor(key?: RunKey, allowInputs?: string[]) {
    this.#key = key;
    const paths = allowInputs?.filter((prefix) => !isRemote(prefix));
    this.#inputs = allowInputs?.length ? inputPrefixes(paths!) : undefined;
    this.#urls = allowInputs?.length ? allowInputs.filter(isRemote) : undefined;
  }

  /**
   * Why a range of the object at the URL `name` may not be read, if it may
   * not: with --allow-input, it must start with a URL given there. (What
   * the object is, the worker checks against the version of every response.)
   */
  #url(name: string): string | undefined {
    if (this.#urls === undefined || this.#urls.some((prefix) => name.startsWith(prefix))) {
      return undefined;
    }
    return `the input ${shown(name)} is not under an allowed input prefix (${
      this.#urls.join(", ") || "no URL is allowed"
    }); start the worker with --allow-input <url>`;
  }

  /** Why run `id` (its meta text, spec and signature) may not be served, if it may not. */
  async run(
    id: string,
    meta: string,
    spec: Uint8Array,
    sig: string | undefined,
  ): Promise<string | undefined> {
    if (this.#key === undefined) return undefined;
    if (await this.#key.verify(["run", id, meta, spec], sig)) return undefined;
    return sig === undefined
      ? "the run is not signed, and this worker runs only runs signed with its key (CRUNCH_REDIS_KEY)"
      : "the run's signature does not match this worker's key (CRUNCH_REDIS_KEY)";
  }

  /** Why a task of run `id` may not be run, if it may not. */
  async task(
    id: string,
    tid: number,
    entry: { frame: Uint8Array; columns?: string; sig?: string },
    task: Task,
  ): Promise<string | undefined> {
    if (this.#key !== undefined) {
      const parts = ["task", id, String(tid), entry.frame, entry.columns ?? ""];
      if (!(await this.#key.verify(parts, entry.sig))) {
        return `task ${tid} is not signed with this worker's key (CRUNCH_REDIS_KEY)`;
      }
    }
    if (task.body.kind !== "range") return undefined;
    const { path, fingerprint, version } = task.body;
    if (version !== undefined) return this.#url(path);
    if (fingerprint === undefined) {
      return `a range of ${path} came without the file's identity: refused`;
    }
    const print = `${fingerprint.size}:${fingerprint.head}`;
    if (this.#checked.get(path) === print) return undefined;
    if (this.#inputs !== undefined) {
      let real = path;
      try {
        real = await Deno.realPath(path);
      } catch {
        // not there: inputMismatch says so
      }
      if (!this.#inputs.some((prefix) => real === prefix || real.startsWith(prefix))) {
        return `the input ${path} is not under an allowed input prefix (${
          this.#inputs.join(", ")
        }); start the worker with --allow-input <path>`;
      }
    }
    const why = await inputMismatch(path, fingerprint);
    if (why === undefined) this.#checked.set(path, print);
    return why;
  }
}
