/**
 * Where a run's parts are committed (`outputDir`): a folder (a part renamed
 * into place, then fsynced off the main thread), or an S3 prefix
 * (`s3://bucket/prefix/`: a part copied to its name and its temporary
 * object deleted; S3 has no rename, and a PUT is durable once answered).
 *
 * @module
 */

import { CrunchError } from "../errors.ts";
import { RemoteClient } from "../remote/client.ts";
import { listS3 } from "../remote/listing.ts";
import { remoteObject } from "../remote/location.ts";

/** The manifest's name: it is written last, when the run completes. */
export const MANIFEST = "_SUCCESS";

/** A place parts are committed to. */
export interface PartStore {
  /** Makes the place ready; one that holds another run's parts (not in `ours`) is refused. */
  prepare(ours: Set<string>): Promise<void>;
  /** Puts the part written at `temp` in place as `name`; where it is now. */
  commit(temp: string, name: string): Promise<string>;
  /** Makes a committed part durable. */
  durable(path: string): Promise<void>;
  /** Writes the manifest, whole, last. */
  manifest(text: string, prefix: string): Promise<void>;
  /** Removes the temporary files or objects whose names start with `prefix`. */
  sweep(prefix: string): Promise<void>;
}

/** The store of `dir`: an `s3://` prefix, or a folder (absolute). */
export function partStore(dir: string): PartStore {
  return /^s3:\/\//i.test(dir) ? new BucketStore(dir) : new FolderStore(dir);
}

/** Why a place holding `name` (not this run's) is refused. */
function refusal(dir: string, name: string): CrunchError {
  return new CrunchError(
    `cannot write parts to ${dir}: it holds ${name} of an earlier run (remove its parts, or ` +
      "name another folder)",
  );
}

/** Makes the file (or folder) at `path` durable: its data on the disk (fsync). */
async function durable(path: string): Promise<void> {
  using file = await Deno.open(path);
  await file.syncData();
}

/** Parts in a folder. */
class FolderStore implements PartStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async prepare(ours: Set<string>): Promise<void> {
    await Deno.mkdir(this.#dir, { recursive: true });
    for await (const entry of Deno.readDir(this.#dir)) {
      if (ours.has(entry.name)) continue; // a resumed run's own
      if (entry.name === MANIFEST || entry.name.startsWith("part-")) {
        throw refusal(this.#dir, entry.name);
      }
    }
  }

  async commit(temp: string, name: string): Promise<string> {
    const path = `${this.#dir}/${name}`;
    await Deno.rename(temp, path);
    return path;
  }

  durable(path: string): Promise<void> {
    return durable(path);
  }

  async manifest(text: string, prefix: string): Promise<void> {
    const temp = `${this.#dir}/${prefix}manifest`;
    await Deno.writeTextFile(temp, text);
    await durable(temp);
    await Deno.rename(temp, `${this.#dir}/${MANIFEST}`);
    await durable(this.#dir);
  }

  async sweep(prefix: string): Promise<void> {
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (entry.name.startsWith(prefix)) {
          await Deno.remove(`${this.#dir}/${entry.name}`).catch(() => {});
        }
      }
    } catch {
      // the folder is gone: nothing to sweep
    }
  }
}

/** Parts under an S3 prefix. */
class BucketStore implements PartStore {
  readonly #dir: string;
  readonly #client = new RemoteClient();

  constructor(dir: string) {
    this.#dir = dir;
  }

  async #names(prefix = ""): Promise<string[]> {
    const objects = await listS3(`${this.#dir}/${prefix}`, this.#client);
    return objects.map((url) => url.slice(this.#dir.length + 1)).filter((n) => !n.includes("/"));
  }

  async prepare(ours: Set<string>): Promise<void> {
    for (const name of await this.#names()) {
      if (ours.has(name)) continue;
      if (name === MANIFEST || name.startsWith("part-")) throw refusal(this.#dir, name);
    }
  }

  async commit(temp: string, name: string): Promise<string> {
    const url = `${this.#dir}/${name}`;
    await this.#client.change(remoteObject(url), "PUT", { copyFrom: remoteObject(temp) });
    await this.#client.change(remoteObject(temp), "DELETE");
    return url;
  }

  durable(): Promise<void> {
    return Promise.resolve(); // a PUT is durable once it is answered
  }

  async manifest(text: string): Promise<void> {
    const body = new TextEncoder().encode(text);
    await this.#client.change(remoteObject(`${this.#dir}/${MANIFEST}`), "PUT", { body });
  }

  async sweep(prefix: string): Promise<void> {
    for (const name of await this.#names(prefix).catch(() => [])) {
      await this.#client.change(remoteObject(`${this.#dir}/${name}`), "DELETE").catch(() => {});
    }
  }
}
