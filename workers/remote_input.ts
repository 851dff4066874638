/**
 * A range's bytes from an object behind a URL (http, https, s3): one
 * byte-range request a read, checked against the version the run opened,
 * with the run's headers and this machine's S3 endpoint and credentials.
 *
 * @module
 */

import { type RemoteClient, RemoteError } from "../lib/remote/client.ts";
import { type RemoteObject, remoteObject } from "../lib/remote/location.ts";
import type { ObjectVersion } from "../lib/wire/object_version.ts";
import { FileChanged, type InputName, type RangeInput } from "./range_reader.ts";

/** A request for a range failed for good: the run ends, naming the URL and the bytes. */
export class RangeUnreadable extends Error {}

/** The object of a range body, read by `client`. */
export class RemoteInput implements RangeInput {
  readonly #client: RemoteClient;
  readonly #object: RemoteObject;
  readonly #version?: ObjectVersion;

  /** Reads the object `body.path` names. */
  constructor(body: InputName, client: RemoteClient) {
    this.#client = client;
    this.#object = remoteObject(body.path);
    this.#version = body.version;
  }

  async readAt(at: number, into: Uint8Array): Promise<number> {
    try {
      return await this.#client.readAt(this.#object, at, into, this.#version);
    } catch (error) {
      if (error instanceof RemoteError) {
        if (error.changed) throw new FileChanged(error.message.replace(/^[^:]*:\/\/[^ ]*: /, ""));
        throw new RangeUnreadable(error.message);
      }
      throw error;
    }
  }

  /** Less than a file's: every byte read past a range is a byte fetched twice. */
  slack(bytes: number): number {
    return Math.min(16 << 10, Math.max(1 << 10, bytes >> 3));
  }

  change(): string | undefined {
    return undefined; // every response is checked against the version
  }

  close(): void {}
}
