/**
 * Runs authenticated with a shared key: a coordinator that holds it signs
 * each run it publishes (its id, meta and spec) and each task (the run's id,
 * the task's id and its frame) with HMAC-SHA256; a `crunch worker` that holds
 * it runs only what verifies, so whoever can write to Redis but lacks the key
 * cannot make a worker run a module or read a file. The key comes from the
 * environment (`CRUNCH_REDIS_KEY`, or a file named by `CRUNCH_REDIS_KEY_FILE`)
 * or the library's `redis.key`, never from a command line that `ps` shows.
 *
 * @module
 */

import { CrunchError } from "../../errors.ts";

const encoder = new TextEncoder();

/** The shared key of a set of coordinators and workers. */
export class RunKey {
  readonly #key: CryptoKey;

  private constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** A key from its secret text (at least 16 characters). */
  static async from(secret: string): Promise<RunKey> {
    if (secret.trim().length < 16) {
      throw new CrunchError("the Redis run key must be at least 16 characters long");
    }
    const key = await crypto.subtle.importKey(
      "raw",
      encoder.encode(secret.trim()),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return new RunKey(key);
  }

  /**
   * The key the environment names: `CRUNCH_REDIS_KEY`, or the contents of
   * the file `CRUNCH_REDIS_KEY_FILE` names; undefined when neither is set
   * (or the environment may not be read).
   */
  static async fromEnvironment(): Promise<RunKey | undefined> {
    let secret: string | undefined;
    let file: string | undefined;
    try {
      secret = Deno.env.get("CRUNCH_REDIS_KEY");
      file = Deno.env.get("CRUNCH_REDIS_KEY_FILE");
    } catch {
      return undefined;
    }
    if (secret === undefined && file !== undefined) secret = await readKeyFile(file);
    return secret === undefined ? undefined : await RunKey.from(secret);
  }

  /** The signature of `parts`, in order, as hex. */
  async sign(parts: (string | Uint8Array)[]): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", this.#key, joined(parts));
    return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** True when `signature` (hex) is that of `parts`. */
  async verify(parts: (string | Uint8Array)[], signature: string | undefined): Promise<boolean> {
    if (signature === undefined || !/^[0-9a-f]{64}$/.test(signature)) return false;
    const bytes = new Uint8Array(32);
    for (let i = 0; i < 32; i++) bytes[i] = parseInt(signature.slice(2 * i, 2 * i + 2), 16);
    return await crypto.subtle.verify("HMAC", this.#key, bytes, joined(parts));
  }
}

/** The key in the file at `path`. */
export async function readKeyFile(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    throw new CrunchError(
      `cannot read the Redis run key file ${path}: ${(error as Error).message}`,
    );
  }
}

/** `parts` as one byte string, each length-prefixed so that no two splits sign the same. */
function joined(parts: (string | Uint8Array)[]): Uint8Array<ArrayBuffer> {
  const bytes = parts.map((p) => typeof p === "string" ? encoder.encode(p) : p);
  const out = new Uint8Array(bytes.reduce((n, b) => n + 8 + b.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of bytes) {
    view.setFloat64(at, b.length);
    out.set(b, at + 8);
    at += 8 + b.length;
  }
  return out;
}
