/**
 * The engine of one run, by what it reads and writes: one input or many
 * files; for a Parquet document, the run of tagged results underneath it;
 * for parts written by the workers, the run of parts underneath the one
 * that commits them. `classify()` and `Pool.classify` start their runs here.
 *
 * @module
 */

import { Files } from "../files.ts";
import type { Input } from "../input/source.ts";
import type { ResolvedRunOptions } from "../options.ts";
import { Engine, type Lease, type Pump } from "./engine.ts";
import { FilesEngine } from "./files_engine.ts";
import { ParquetPump } from "./parquet_pump.ts";
import { partSettings, PartsPump } from "./parts_pump.ts";

/** The pump of a run over `input` with `options`, on the workers `lease` gives. */
export function pumpFor(input: Input, options: ResolvedRunOptions, lease: Lease): Pump {
  if (options.outputDir !== undefined && options.parts === undefined) {
    if (options.tagged) {
      throw new TypeError(
        "options outputDir and tagged: a part is written by its worker, which does not know " +
          "its records' indexes (they are counted on this side); write the index as a field",
      );
    }
    const parts = partSettings(
      options.outputDir,
      options.encode ?? "ndjson",
      options.partCompression,
      options.parquetCompression,
      options.parquetSchema,
    );
    const inner = pumpFor(input, { ...options, encode: undefined, parts }, lease);
    return new PartsPump(inner, parts, options.partsLog);
  }
  if (options.encode === "parquet") {
    const inner = pumpFor(input, { ...options, encode: undefined, tagged: true }, lease);
    return new ParquetPump(inner, {
      compression: options.parquetCompression,
      schema: options.parquetSchema,
      tagged: options.tagged,
      onError: options.onError,
      file: typeof input === "string" ? input : input instanceof URL ? input.href : undefined,
    });
  }
  return input instanceof Files
    ? new FilesEngine(input, options, lease)
    : new Engine(input, options, lease);
}
