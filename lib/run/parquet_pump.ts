/**
 * A run whose results are a Parquet document (`encode: "parquet"`): the run
 * underneath yields tagged results (a Parquet file is written column by
 * column, so its bytes are made here, on the main thread, a row group at a
 * time, not in the workers), and the consumer gets the document's bytes as
 * each row group is written. A result that does not fit the schema the
 * first row group fixed is a `RecordError` for its record, handled as the
 * run's `onError` says.
 *
 * @module
 */

import { RecordError } from "../errors.ts";
import {
  type ParquetCompression,
  ParquetEncoder,
  type ParquetSchema,
} from "../formats/parquet_output.ts";
import { isPlainObject } from "../formats/encode.ts";
import type { OnError, Tagged } from "../options.ts";
import type { RunReport } from "../report.ts";
import type { Pump } from "./engine.ts";

/** How the document is written, and what it does with results that do not fit. */
export interface ParquetPumpOptions {
  compression?: ParquetCompression;
  /** The columns and their types, when declared. */
  schema?: ParquetSchema;
  /** Results a row group holds. */
  rowGroupRows?: number;
  /** Whether each row carries its record's index and line (and file, for many files). */
  tagged: boolean;
  onError: OnError;
  /** The input, for the errors of a single input. */
  file?: string;
}

/** The Parquet document of the tagged results of `inner`. */
export class ParquetPump implements Pump {
  readonly #inner: Pump;
  readonly #options: ParquetPumpOptions;
  readonly #encoder: ParquetEncoder<Tagged>;
  readonly #ready: Uint8Array[] = [];
  #done = false;

  /** Writes the results of `inner` (a run of tagged results) as `options` say. */
  constructor(inner: Pump, options: ParquetPumpOptions) {
    this.#inner = inner;
    this.#options = options;
    this.#encoder = new ParquetEncoder(options.compression, options.rowGroupRows, options.schema);
  }

  takeReady(batch: boolean): { value: unknown } | undefined {
    const bytes = this.#ready.shift();
    return bytes && { value: batch ? [bytes] : bytes };
  }

  async next(batch: boolean): Promise<IteratorResult<unknown>> {
    for (;;) {
      const ready = this.takeReady(batch);
      if (ready) return { done: false, value: ready.value };
      if (this.#done) return { done: true, value: undefined };
      const got = await this.#inner.next(true);
      if (got.done) {
        this.#done = true;
        await this.#written(await this.#encoder.finish());
        continue;
      }
      for (const tagged of got.value as Tagged[]) {
        const why = this.#encoder.add(this.#row(tagged), tagged);
        if (why !== undefined) await this.#misfit(tagged, why);
      }
      if (this.#encoder.full) await this.#written(await this.#encoder.flush());
    }
  }

  /** What a row of the document holds for `tagged`. */
  #row(tagged: Tagged): unknown {
    if (!this.#options.tagged) return tagged.result;
    const { file, index, line, result } = tagged;
    const tags = { ...(file === undefined ? {} : { file }), index, line: line ?? null };
    return isPlainObject(result) ? { ...tags, ...result } : { ...tags, result };
  }

  async #written(
    { bytes, misfits }: { bytes: Uint8Array; misfits: { tag: Tagged; reason: string }[] },
  ): Promise<void> {
    for (const { tag, reason } of misfits) await this.#misfit(tag, reason);
    if (bytes.length) this.#ready.push(bytes);
  }

  /** A result that does not fit: an error for its record, as onError says. */
  async #misfit(tagged: Tagged, reason: string): Promise<void> {
    const { index, line, file = this.#options.file } = tagged;
    const error = new RecordError({ index, line, file }, undefined, {
      name: "TypeError",
      message: `its result does not fit the Parquet output: ${reason}`,
    });
    const { onError } = this.#options;
    if (onError === "skip") return;
    try {
      if (onError === "fail") throw error;
      onError(error);
    } catch (thrown) {
      await this.#inner.stop();
      throw thrown;
    }
  }

  stop(): Promise<void> {
    return this.#inner.stop();
  }

  report(): RunReport | undefined {
    return this.#inner.report();
  }
}
