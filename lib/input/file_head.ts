/**
 * The head of a file (its header row and format checks), read cheaply to
 * check many files before a run starts: from a plain file's first bytes, or
 * a gzip file's first bytes inflated on this thread (a decoding worker costs
 * tens of milliseconds to start, per file). Anything else (zstd, a head
 * longer than those bytes, a gzip file whose first member ends too soon) is
 * read the run's own way.
 *
 * @module
 */

import { ChunkReader } from "./chunk_reader.ts";
import { sniff, SNIFF_BYTES } from "./compression.ts";
import { type Dialect, readHead } from "./head.ts";
import { StreamSource } from "./byte_source.ts";
import { type InputOptions, planInput } from "./source.ts";
import type { SourceHead } from "./task.ts";
import type { Format, InputFormat } from "../formats/format.ts";
import { isRemote } from "../remote/location.ts";

/** The compressed bytes a gzip file's head is looked for in. */
const HEAD_BYTES = 256 << 10;

/**
 * The head of the file at `path` read as `format`; errors as the run's own
 * reading gives them (an InputError for a file that cannot be opened, a
 * ParseError for a malformed header).
 */
export async function fileHead(
  path: string,
  format: InputFormat,
  options: InputOptions & Dialect,
): Promise<SourceHead> {
  // An object behind a URL is read the run's way: its first request brings the head; so is
  // a Parquet file's footer.
  const quick = isRemote(path) || format === "parquet"
    ? undefined
    : await quickHead(path, format, options).catch(() => undefined);
  if (quick !== undefined) return quick;
  const plan = planInput(path, {
    ...options,
    reader: "main",
    startAt: undefined,
    select: undefined,
  });
  try {
    return (await plan.open()).head;
  } finally {
    plan.close();
  }
}

/** The head from the file's first bytes (inflated, for gzip); undefined where they do not hold it. */
async function quickHead(
  path: string,
  format: Format,
  options: InputOptions & Dialect,
): Promise<SourceHead | undefined> {
  using file = await Deno.open(path);
  const bytes = new Uint8Array(HEAD_BYTES);
  let got = 0;
  while (got < bytes.length) {
    const n = await file.read(bytes.subarray(got));
    if (n === null) break;
    got += n;
  }
  const compression = sniff(bytes.subarray(0, SNIFF_BYTES));
  if (compression !== undefined && compression !== "gzip") return undefined;
  let stream = new Blob([bytes.subarray(0, got)]).stream();
  // Cut short, a gzip stream fails rather than ends: a head that needs more is never made up.
  if (compression === "gzip") stream = stream.pipeThrough(new DecompressionStream("gzip"));
  const reader = new ChunkReader(
    new StreamSource(stream),
    format,
    64 << 10,
    options.maxRecordBytes,
    0,
    options.delimiter,
  );
  try {
    const head = await readHead(reader, format, options, path);
    // A plain file's bytes cut short end like a file: the head must end before they do.
    const whole = compression === "gzip" || got < bytes.length || await reader.position() < got;
    return whole ? head : undefined;
  } finally {
    reader.close();
  }
}
