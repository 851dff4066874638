/**
 * A task's results written by its worker as one part file (`outputDir`),
 * so they never cross to the main thread: NDJSON, CSV (with its header),
 * a JSON array or a Parquet file, optionally gzip or zstd as a whole. The
 * part is written whole under a hidden temporary name before the task's
 * last piece names it; the main side renames it into place when it records
 * the task's outcome, so a part is committed once, whole, or not at all.
 * An `s3://` folder gets the part as an object of its own (one PUT).
 *
 * @module
 */

import * as zlib from "node:zlib";
import { csvCell } from "../lib/formats/encode.ts";
import { concat } from "../lib/wire/frames.ts";
import { ParquetEncoder } from "../lib/formats/parquet_output.ts";
import type { Encoded, PartSettings, WrittenPart } from "../lib/wire/task.ts";
import type { RemoteClient } from "../lib/remote/client.ts";
import { isRemote, remoteObject } from "../lib/remote/location.ts";

const encoder = new TextEncoder();

/** A result of a Parquet part that does not fit the part's schema: its record's offset, and why. */
export interface PartMisfit {
  offset: number;
  reason: string;
}

/** One task's part, filled piece by piece, written when the task ends. */
export class PartFile {
  readonly #settings: PartSettings;
  readonly #task: number;
  readonly #bytes: Uint8Array[] = [];
  readonly #rows: { offset: number; result: unknown }[] = [];
  #columns: string[] | undefined;
  #results = 0;
  readonly #remote: () => RemoteClient;

  /**
   * The part of task `task` of a run that writes parts as `settings` say;
   * `remote` puts it to an `s3://` folder.
   */
  constructor(settings: PartSettings, task: number, remote: () => RemoteClient) {
    this.#settings = settings;
    this.#task = task;
    this.#remote = remote;
  }

  /** Takes a piece's results: serialized (`encoded`, text formats), or as they are (Parquet). */
  add(encoded: Encoded | undefined, results: unknown[], offsets: number[]): void {
    if (encoded) {
      if (encoded.columns) this.#columns = encoded.columns;
      if (encoded.bytes) this.#bytes.push(encoded.bytes);
      this.#results += encoded.count;
      return;
    }
    for (let k = 0; k < results.length; k++) {
      this.#rows.push({ offset: offsets[k], result: results[k] });
    }
  }

  /** Writes the part under its temporary name; the results of a Parquet part that did not fit. */
  async write(): Promise<{ part: WrittenPart; misfits: PartMisfit[] }> {
    const { dir, prefix, compression } = this.#settings;
    const { bytes, misfits } = await this.#document();
    const body = compression === "gzip"
      ? zlib.gzipSync(bytes)
      : compression === "zstd"
      ? zlib.zstdCompressSync(bytes)
      : bytes;
    const temp = `${dir}/${prefix}t${this.#task}-${crypto.randomUUID().slice(0, 8)}.part`;
    if (isRemote(dir)) await this.#remote().change(remoteObject(temp), "PUT", { body });
    else {
      const file = Deno.openSync(temp, { write: true, createNew: true });
      try {
        // Not fsynced here: the main side does it off its thread once the part is committed.
        for (let at = 0; at < body.length;) at += file.writeSync(body.subarray(at));
      } finally {
        file.close();
      }
    }
    return { part: { temp, results: this.#results, bytes: body.length }, misfits };
  }

  /** The part's document, whole. */
  async #document(): Promise<{ bytes: Uint8Array; misfits: PartMisfit[] }> {
    const format = this.#settings.format;
    if (format === "parquet") return await this.#parquet();
    const pieces = [...this.#bytes];
    if (format === "csv" && this.#columns) {
      pieces.unshift(encoder.encode(this.#columns.map(csvCell).join(",") + "\n"));
    }
    if (format === "json") {
      const inner = pieces.flatMap((p, k) => k ? [encoder.encode(",\n"), p] : [p]);
      pieces.splice(0, pieces.length, encoder.encode("[\n"), ...inner, encoder.encode("\n]\n"));
    }
    return { bytes: concat(pieces), misfits: [] };
  }

  /** A Parquet part: one row group of this task's results, its schema theirs. */
  async #parquet(): Promise<{ bytes: Uint8Array; misfits: PartMisfit[] }> {
    const { codec, schema } = this.#settings;
    const document = new ParquetEncoder<number>(codec, Infinity, schema);
    const misfits: PartMisfit[] = [];
    for (const { offset, result } of this.#rows) {
      const why = document.add(result, offset);
      if (why !== undefined) misfits.push({ offset, reason: why });
    }
    const { bytes, misfits: late } = await document.finish();
    for (const { tag, reason } of late) misfits.push({ offset: tag, reason });
    this.#results = document.written;
    return { bytes, misfits };
  }
}
