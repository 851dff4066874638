/**
 * The forecast of `--dry-run` from its sample: the sampled records
 * classified on the run's own workers, and what that says of the whole run,
 * printed.
 *
 * @module
 */

import { classify } from "../classify.ts";
import type { ParseError, RecordError } from "../errors.ts";
import type { SampledWindow } from "../input/sample.ts";
import type { SourceHead } from "../input/task.ts";
import { count, thousands } from "../numbers.ts";
import { resolveWorkers } from "../options.ts";
import { columnsOf, encodeResult } from "../formats/encode.ts";
import type { Command } from "./args.ts";

/** What was sampled of one input. */
export interface Sampled {
  input: string;
  head: SourceHead;
  compression?: string;
  windows: SampledWindow[];
  /** Records taken from each window, at most. */
  perPoint: number;
  /** The input's size in bytes (compressed, for a compressed input), when known. */
  size?: number;
  /** Head only: the input's bytes read to get the head's records. */
  coveredBytes?: number;
  /** Points tried. */
  tried: number;
  headOnly: boolean;
  /** Reading and parsing the windows, ms. */
  parseMs: number;
}

/** What classifying the sample gave. */
export interface Outcome {
  records: number;
  results: number;
  outputBytes: number;
  /** Malformed sampled records and classify failures, the first few. */
  errors: string[];
  errorCount: number;
  /** Starting the workers (and their init), ms. */
  startMs: number;
  /** A record's worker time, ms: parsing, classifying and encoding it. */
  workerMsPerRecord: number;
  workers: number;
  rssBytes: number;
}

/** Classifies the sampled records as the run would, with the command's module, spec and workers. */
export async function classifySample(command: Command, sampled: Sampled[]): Promise<Outcome> {
  const rows: unknown[] = [];
  const errors: string[] = [];
  let errorCount = 0;
  let parsed = 0;
  for (const s of sampled) {
    for (const window of s.windows) {
      for (const record of window.records.slice(0, s.perPoint)) {
        parsed++;
        if ("row" in record) rows.push(record.row);
        else {
          errorCount++;
          if (errors.length < 3) {
            errors.push(`${s.input}, byte ${record.byte}: ${record.malformed}`);
          }
        }
      }
    }
  }
  const encode = command.options.encode ?? "ndjson";
  const started = performance.now();
  const results = classify(command.module, rows, {
    ...command.options,
    format: undefined,
    encode: undefined,
    ordered: false,
    tagged: false,
    onError: (error: RecordError | ParseError) => {
      errorCount++;
      if (errors.length < 3) errors.push(error.message);
    },
  });
  // The output the run would write, and the pace once the workers are warm (the second half).
  let outputBytes = 0;
  let done = 0;
  let encodeMs = 0;
  let columns: string[] | undefined;
  for await (const batch of results.batches()) {
    const encoding = performance.now();
    for (const result of batch) {
      columns ??= encode === "csv" ? columnsOf(result) : [];
      try {
        outputBytes += encodeResult(encode, result, columns).length + 1;
      } catch (error) {
        errorCount++; // the run would make it a RecordError
        if (errors.length < 3) {
          errors.push(`a result cannot be written: ${(error as Error).message}`);
        }
      }
    }
    encodeMs += performance.now() - encoding;
    done += batch.length;
  }
  const end = performance.now();
  const report = results.report();
  const classifyMs = report?.workers.reduce((n, w) => n + w.stages.classifyMs, 0) ?? 0;
  const parseMs = sampled.reduce((n, s) => n + s.windows.reduce((m, w) => m + w.parseMs, 0), 0);
  const windowRecords = sampled.reduce(
    (n, s) => n + s.windows.reduce((m, w) => m + w.records.length, 0),
    0,
  );
  return {
    records: parsed,
    results: done,
    outputBytes,
    errors,
    errorCount,
    startMs: Math.max(0, end - started - (report?.elapsedMs ?? 0)),
    // A record's worker time as the run spends it: classify (measured in the workers), and
    // decoding and parsing it and encoding its result (measured here).
    workerMsPerRecord: classifyMs / Math.max(1, rows.length) +
      parseMs / Math.max(1, windowRecords) + encodeMs / Math.max(1, done),
    workers: resolveWorkers(command.options.workers),
    rssBytes: Deno.memoryUsage().rss,
  };
}

/** Records per byte of input (compressed bytes for a compressed input), from what was sampled. */
function density(s: Sampled): number | undefined {
  const records = s.windows.reduce((n, w) => n + w.records.length, 0);
  const bytes = s.headOnly ? s.coveredBytes : s.windows.reduce((n, w) => n + w.bytes, 0);
  return bytes ? records / bytes : undefined;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;

/** Prints what the sample found and the forecast, on standard error. */
export function printForecast(command: Command, sampled: Sampled[], outcome: Outcome): void {
  const say = (line: string) => console.error(line);
  const size = sampled.reduce((n, s) => n + (s.size ?? 0), 0);
  say(
    `crunch: dry run: ${count(outcome.records, "record")} sampled from ${
      count(sampled.reduce((n, s) => n + s.windows.length, 0), "point")
    } of ${count(sampled.length, "input")} (${mb(size)}); nothing written`,
  );
  let total = 0;
  let known = true;
  for (const s of sampled) {
    const perByte = density(s);
    const { head } = s;
    const columns = head.columns ? `, ${count(head.columns.length, "column")}` : "";
    const delimiter = head.delimiter ? `, delimiter ${JSON.stringify(head.delimiter)}` : "";
    const how = s.headOnly
      ? `its head only (${s.compression ? `${s.compression}-compressed` : "read as a stream"})`
      : `${s.windows.length} of ${s.tried} points, each from a record start ${
        s.windows.every((w) => w.proof === "exact")
          ? "found by counting the quotes before it"
          : "taken when its first records read as records and not as a quoted field"
      }`;
    const rate = perByte === undefined ? "" : `; ${thousands(perByte * 1e6)} records/MB`;
    say(
      `  ${s.input}: ${head.format}${columns}${delimiter}, ${head.encoding ?? "utf-8"}, ` +
        `${s.compression ?? "not compressed"}; ${how}${rate}`,
    );
    if (perByte === undefined || s.size === undefined) known = false;
    else total += perByte * s.size;
  }
  const o = outcome;
  const perRecord = o.workerMsPerRecord / o.workers;
  const time = (o.startMs + total * perRecord) / 1000;
  const errorShare = o.records ? o.errorCount / o.records : 0;
  const output = o.records ? o.outputBytes / o.records * total : 0;
  const encode = command.options.encode ?? "ndjson";
  say(
    known
      ? `  forecast: about ${thousands(Math.round(total))} records; about ${time.toFixed(1)} s ` +
        `on ${count(o.workers, "worker")} (start-up ${(o.startMs / 1000).toFixed(2)} s, then ` +
        `${thousands(1000 / perRecord)} records/s); output about ${mb(output)} (${encode})`
      : `  forecast: the total is unknown (an input of unknown size): ` +
        `${thousands(1000 / perRecord)} records/s after a start-up of ` +
        `${(o.startMs / 1000).toFixed(2)} s`,
  );
  say(
    `  errors: ${(errorShare * 100).toFixed(2)}% (${thousands(o.errorCount)} of ` +
      `${thousands(o.records)} sampled); memory: about ${mb(o.rssBytes)} (this process, ` +
      `${count(o.workers, "worker")})`,
  );
  for (const error of o.errors) say(`  error: ${error}`);
}
