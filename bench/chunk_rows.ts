/**
 * Reading a file in the bench the way a crunch worker does: the same chunks,
 * the same parsers, on the calling thread. The single-threaded baseline
 * (`single_loop.ts`) and the bench's own data preparation both use it.
 *
 * @module
 */

import { FileSource } from "../lib/input/byte_source.ts";
import { ChunkReader } from "../lib/input/chunk_reader.ts";
import { DEFAULT_CHUNK_BYTES } from "../lib/options.ts";
import { delimiterOf, type Format } from "../lib/formats/format.ts";
import { parseDelimited, parseDelimitedRows, recordParsers } from "../lib/formats/csv.ts";
import { parseNdjson } from "../lib/formats/ndjson.ts";

/** Reads a file the way a worker does (same chunks, same parser) and hands over each chunk's rows. */
export async function eachChunkRows(
  path: string,
  format: Format,
  use: (rows: unknown[]) => unknown,
): Promise<void> {
  const reader = new ChunkReader(
    await FileSource.open(path),
    format,
    DEFAULT_CHUNK_BYTES,
    64 << 20,
  );
  const delimiter = delimiterOf(format);
  let columns: string[] = [];
  if (format !== "ndjson") {
    const header = new TextDecoder().decode((await reader.header())!.bytes);
    columns = parseDelimitedRows(header, delimiter)[0];
  }
  const parsers = recordParsers(columns, delimiter);
  const decoder = new TextDecoder();
  for (let c = await reader.next(); c; c = await reader.next()) {
    const text = decoder.decode(new Uint8Array(c.buffer, c.start, c.end - c.start));
    const parsed = format === "ndjson"
      ? parseNdjson(text)
      : parseDelimited(text, delimiter, columns, parsers);
    await use(parsed.rows);
  }
  reader.close();
}
