/**
 * The decompressors a worker reads Parquet pages with, by codec: Deno's
 * native zlib for GZIP, BROTLI and ZSTD (a page is one frame or member),
 * and hyparquet-compressors for SNAPPY (WebAssembly), LZ4 and LZ4_RAW.
 * Each checks that a page inflates to the size its header says, so a
 * corrupt page is an error, never a short column.
 *
 * @module
 */

import * as zlib from "node:zlib";
// Inline, like aws4fetch: a plug-in's own config (which worker processes run under) need not map it.
// deno-lint-ignore no-import-prefix
import type { Compressors } from "npm:hyparquet@1.33.0";

type Decompress = (input: Uint8Array, outputLength: number) => Uint8Array;

/** A page that does not inflate to its stated size. */
export class PageSizeError extends Error {}

function checked(codec: string, inflate: Decompress): Decompress {
  return (input, outputLength) => {
    const output = inflate(input, outputLength);
    if (output.length !== outputLength) {
      throw new PageSizeError(
        `a ${codec} page inflated to ${output.length} bytes, its header says ${outputLength}`,
      );
    }
    return output;
  };
}

function native(inflate: (input: Uint8Array) => Uint8Array): Decompress {
  return (input) => {
    const output = inflate(input);
    return new Uint8Array(output.buffer, output.byteOffset, output.length);
  };
}

/** A worker's decompressors, loaded on its first Parquet task (snappy's WebAssembly too). */
export class ParquetCodecs {
  #loaded: Promise<Compressors> | undefined;

  /** The decompressors, by codec, loaded once. */
  get(): Promise<Compressors> {
    return this.#loaded ??= load();
  }
}

async function load(): Promise<Compressors> {
  // deno-lint-ignore no-import-prefix
  const more = await import("npm:hyparquet-compressors@1.1.2");
  return {
    SNAPPY: checked("snappy", more.compressors.SNAPPY!),
    GZIP: checked("gzip", native((input) => zlib.gunzipSync(input))),
    BROTLI: checked("brotli", native((input) => zlib.brotliDecompressSync(input))),
    ZSTD: checked("zstd", native((input) => zlib.zstdDecompressSync(input))),
    LZ4: checked("lz4", more.decompressLz4),
    LZ4_RAW: checked("lz4_raw", more.decompressLz4Raw),
  };
}
