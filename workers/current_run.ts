/**
 * The run a worker is working on: its settings as the backend sent them,
 * and what the worker derives from them once (the record parsers for its
 * columns, the rate limit's gate).
 *
 * @module
 */

import { parseDelimited, type RecordParsers, recordParsers } from "../lib/formats/csv.ts";
import { delimiterOf } from "../lib/formats/format.ts";
import { parseNdjson } from "../lib/formats/ndjson.ts";
import type { ParsedChunk } from "../lib/formats/parsed_chunk.ts";
import type { RunMessage } from "../lib/wire/protocol.ts";
import { DEFAULT_BATCH_RECORDS, DEFAULT_RETRY, type RetryPolicy } from "../lib/wire/task.ts";
import { RateGate } from "./retry.ts";
import { RemoteClient } from "../lib/remote/client.ts";
import { TaskSpans } from "./telemetry.ts";

/** Record parsers by delimiter and columns: runs over many files of one header share them. */
export class ParserCache {
  readonly #parsers = new Map<string, RecordParsers>();

  /** The parsers for `columns` split by `delimiter`, made once. */
  get(columns: string[], delimiter: string): RecordParsers {
    const key = `${delimiter}\0${columns.join("\0")}`;
    let parsers = this.#parsers.get(key);
    if (parsers === undefined) {
      if (this.#parsers.size > 64) this.#parsers.clear();
      this.#parsers.set(key, parsers = recordParsers(columns, delimiter));
    }
    return parsers;
  }
}

/** One run's settings in a worker. */
export class CurrentRun {
  readonly settings: RunMessage;
  /** Decodes the run's byte inputs, in their encoding. */
  readonly decoder: TextDecoder;
  readonly #cache: ParserCache;
  #parsers: RecordParsers | undefined;
  #gate: RateGate | undefined;
  #remote: RemoteClient | undefined;

  /** The spans of this run's tasks, when its span crossed to this worker and telemetry is on. */
  readonly spans: Promise<TaskSpans | undefined> | undefined;

  /** The run `settings` describe; its parsers come from `cache`. */
  constructor(settings: RunMessage, cache: ParserCache) {
    this.settings = settings;
    if (settings.traceparent) this.spans = TaskSpans.of(settings.traceparent);
    this.decoder = new TextDecoder(settings.encoding ?? "utf-8");
    this.#cache = cache;
  }

  /** The backend's number for the run. */
  get id(): number {
    return this.settings.run;
  }

  /** How retryable failures are retried. */
  get retry(): RetryPolicy {
    return this.settings.retry ?? DEFAULT_RETRY;
  }

  /** Rows per classifyBatch call. */
  get batchRecords(): number {
    return this.settings.batchRecords ?? DEFAULT_BATCH_RECORDS;
  }

  /** The run's rate limit: shared by the threads, or this worker's own share. */
  get gate(): RateGate | undefined {
    const rate = this.settings.rate;
    if (rate === undefined) return undefined;
    return this.#gate ??= new RateGate(rate.buffer ?? new ArrayBuffer(8), rate.intervalUs);
  }

  /** What fetches the run's inputs behind URLs, with its headers. */
  get remote(): RemoteClient {
    return this.#remote ??= new RemoteClient(this.settings.http ?? {});
  }

  /** The records of `text`, in the run's format. */
  parse(text: string): ParsedChunk {
    const { format, delimiter, columns = [] } = this.settings;
    if (format === "ndjson") return parseNdjson(text);
    if (format === "parquet") throw new Error("a Parquet run has no text to parse");
    const split = delimiterOf(format, delimiter);
    this.#parsers ??= this.#cache.get(columns, split);
    return parseDelimited(text, split, columns, this.#parsers);
  }
}
