/**
 * A Parquet file's footer, read once by the main thread: a file by position,
 * an object behind a URL by byte range. The footer (hyparquet's
 * `FileMetaData`) says where every column chunk of every row group lies, so
 * the workers read their own row groups and nothing else.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix
import type { AsyncBuffer, FileMetaData } from "npm:hyparquet@1.33.0";
import { InputError } from "../errors.ts";
import type { RemoteClient } from "../remote/client.ts";
import type { RemoteObject } from "../remote/location.ts";
import type { Fingerprint } from "../wire/fingerprint.ts";
import type { ObjectVersion } from "../wire/object_version.ts";
import { FileSource, type Positional, PositionalFile } from "./byte_source.ts";
import { RemoteSource } from "./remote_source.ts";

/** A Parquet input opened: its footer, and how the workers find it again. */
export interface ParquetFile {
  /** The absolute path, or the URL, the workers read. */
  path: string;
  size: number;
  metadata: FileMetaData;
  /** A file: what it was when the footer was read. */
  fingerprint?: Fingerprint;
  /** An object: the version the run reads. */
  version?: ObjectVersion;
}

/** Opens the file at `path` (absolute) and reads its footer; `name` is for errors. */
export async function parquetFile(path: string, name: string): Promise<ParquetFile> {
  const source = await FileSource.open(path);
  if (!(source instanceof FileSource) || source.size === undefined) {
    source.close();
    throw new InputError(name, "a Parquet input must be a regular file (it is read by position)");
  }
  const fingerprint = source.fingerprint();
  source.close();
  const file = new PositionalFile(await Deno.open(path));
  try {
    const metadata = await footerOf(file, source.size, name);
    return { path, size: source.size, metadata, fingerprint };
  } finally {
    file.close();
  }
}

/** Opens the object with `client` and reads its footer; `name` is for errors. */
export async function parquetObject(
  client: RemoteClient,
  object: RemoteObject,
  name: string,
): Promise<ParquetFile> {
  // The first request says the object's size, version and whether the server serves ranges.
  const source = await RemoteSource.open(client, object, 8);
  source.close();
  if (!source.ranges || source.size === undefined) {
    throw new InputError(
      name,
      "the server ignores byte-range requests (it answered 200 to one): a Parquet input is " +
        "read by range from its footer, so it cannot be read from this server",
    );
  }
  const metadata = await footerOf(source.positional(), source.size, name);
  return { path: object.name, size: source.size, metadata, version: source.version };
}

/** The footer of the `size` bytes `file` holds, or an InputError that says what is wrong with it. */
async function footerOf(file: Positional, size: number, name: string): Promise<FileMetaData> {
  // deno-lint-ignore no-import-prefix
  const { parquetMetadataAsync } = await import("npm:hyparquet@1.33.0");
  if (size < 12) {
    throw new InputError(name, `not a Parquet file: it holds ${size} bytes, fewer than any can`);
  }
  const tail = new Uint8Array(8);
  await file.fill(size - 8, tail);
  const magic = tail.subarray(4);
  if (new TextDecoder().decode(magic) !== "PAR1") {
    const hex = [...magic].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new InputError(
      name,
      `not a Parquet file, or one cut short: it does not end with "PAR1" (50 41 52 31; its ` +
        `last 4 bytes are ${hex})`,
    );
  }
  const length = new DataView(tail.buffer).getUint32(0, true);
  if (length + 8 > size - 4) {
    throw new InputError(
      name,
      `its footer is corrupt: it claims ${length} bytes, more than the file's ${size} hold`,
    );
  }
  const buffer: AsyncBuffer = {
    byteLength: size,
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      const bytes = new Uint8Array(end - start);
      await file.fill(start, bytes);
      return bytes.buffer;
    },
  };
  try {
    return await parquetMetadataAsync(buffer, { initialFetchSize: length + 8 });
  } catch (error) {
    throw new InputError(name, `its footer is corrupt: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
