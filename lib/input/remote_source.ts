/**
 * An object behind a URL read by the main thread: its head (the first
 * response tells its size, its version and whether the server serves byte
 * ranges), all of it when the server ignores `Range` or the object is
 * compressed, and the pieces it reads again (a chunk to re-run, the rest of
 * an input after a cut the workers could not mend).
 *
 * @module
 */

import { InputError } from "../errors.ts";
import { type RemoteClient, RemoteError } from "../remote/client.ts";
import { type RemoteObject, shown } from "../remote/location.ts";
import type { Fingerprint } from "../wire/fingerprint.ts";
import { type ObjectVersion, versionOf } from "../wire/object_version.ts";
import { type ByteSource, type Positional, StreamSource } from "./byte_source.ts";

/** The first request's bytes, by default: the head, and the first records. */
const FIRST_PIECE = 1 << 20;
/** The longest request the main thread makes, reading on. */
const LAST_PIECE = 64 << 20;

/** The object streamed from its start, read again from where it broke off if it breaks off. */
export class RemoteSource implements ByteSource {
  readonly #client: RemoteClient;
  readonly #object: RemoteObject;
  #stream: StreamSource;
  #done: () => void;
  #at = 0;
  #piece: number;
  #closed = false;
  /** Its size, when the server serves ranges (a file the workers can read by range). */
  readonly size?: number;
  /** The version the run reads. */
  readonly version: ObjectVersion;
  /** Whether the server answers byte-range requests. */
  readonly ranges: boolean;

  private constructor(
    client: RemoteClient,
    object: RemoteObject,
    response: Response,
    done: () => void,
    alive: () => void,
    first: number,
  ) {
    this.#client = client;
    this.#piece = first;
    this.#object = object;
    this.ranges = response.status === 206;
    this.version = versionOf(response.headers);
    if (!this.ranges) {
      const length = response.headers.get("content-length");
      if (length !== null) this.version.size = Number(length);
    }
    this.size = this.ranges ? this.version.size : undefined;
    this.#stream = new StreamSource(watched(response.body!, alive));
    this.#done = done;
  }

  /**
   * Opens `object` from its first byte with `client`, asking first for
   * `first` bytes (enough for the head); an InputError when it cannot be read.
   */
  static async open(
    client: RemoteClient,
    object: RemoteObject,
    first = FIRST_PIECE,
  ): Promise<RemoteSource> {
    try {
      const { response, done, alive } = await client.open(object, 0, first - 1);
      return new RemoteSource(client, object, response, done, alive, first);
    } catch (error) {
      throw inputErrorOf(object, error);
    }
  }

  /** The object these bytes come from. */
  get object(): RemoteObject {
    return this.#object;
  }

  async read(into: Uint8Array, waitMs?: number): Promise<number | null> {
    for (let attempt = 1;; attempt++) {
      try {
        const n = await this.#stream.read(into, waitMs);
        if (n !== null) {
          this.#at += n;
          return n;
        }
        this.#done();
        if (!this.ranges || this.#at >= this.size!) return null;
        // That piece is read: the next, twice as long (what is fetched but never read, when
        // the reader stops early, stays bounded).
        this.#piece = Math.min(LAST_PIECE, this.#piece * 2);
        await this.#reopen();
      } catch (error) {
        if (this.#closed) return null;
        // A broken stream from a server that serves ranges goes on from where it stopped.
        if (!this.ranges || attempt >= 4) throw inputErrorOf(this.#object, error);
        this.#done();
        await this.#reopen();
      }
    }
  }

  async #reopen(): Promise<void> {
    try {
      const { response, done, alive } = await this.#client.open(
        this.#object,
        this.#at,
        Math.min(this.size!, this.#at + this.#piece) - 1,
        this.version,
      );
      this.#stream = new StreamSource(watched(response.body!, alive));
      this.#done = done;
    } catch (error) {
      throw inputErrorOf(this.#object, error);
    }
  }

  /** A reader of the object at positions, for what the main thread reads again. */
  positional(): Positional {
    return new RemoteFile(this.#client, this.#object, this.version);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#done();
    this.#stream.close();
  }
}

/** `body`, calling `alive` on every piece (so that a quiet timer is re-armed). */
function watched(
  body: ReadableStream<Uint8Array>,
  alive: () => void,
): ReadableStream<Uint8Array> {
  return body.pipeThrough(
    new TransformStream({
      transform(piece, controller) {
        alive();
        controller.enqueue(piece);
      },
    }),
  );
}

/** An object read at positions by byte-range requests. */
class RemoteFile implements Positional {
  readonly #client: RemoteClient;
  readonly #object: RemoteObject;
  readonly #version: ObjectVersion;

  constructor(client: RemoteClient, object: RemoteObject, version: ObjectVersion) {
    this.#client = client;
    this.#object = object;
    this.#version = version;
  }

  async readAt(at: number, into: Uint8Array): Promise<number | null> {
    const n = await this.fill(at, into);
    return n === 0 && into.length > 0 ? null : n;
  }

  async fill(at: number, into: Uint8Array): Promise<number> {
    try {
      return await this.#client.readAt(this.#object, at, into, this.#version);
    } catch (error) {
      throw inputErrorOf(this.#object, error);
    }
  }

  changeSince(_was: Fingerprint): string | undefined {
    return undefined; // every response is checked against the version instead
  }

  close(): void {}
}

/** A failed request as the InputError the run ends with (other errors pass through). */
export function inputErrorOf(object: RemoteObject, error: unknown): unknown {
  if (error instanceof InputError) return error;
  const name = shown(object.name);
  if (error instanceof RemoteError) {
    const prefix = `${name}: `;
    const reason = error.message.startsWith(prefix)
      ? error.message.slice(prefix.length)
      : error.message;
    return new InputError(name, reason, { cause: error });
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return new InputError(
      name,
      `not allowed to fetch it (${(error as Error).message}); run with --allow-net`,
      { cause: error },
    );
  }
  return new InputError(name, `it could not be read: ${(error as Error).message}`, {
    cause: error,
  });
}
