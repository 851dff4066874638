/**
 * `--retry-errors FILE`: classifies again only the records an errors file
 * lists (after a classifier bug is fixed, say), found in the input by their
 * index, and writes their results with their own index and line.
 *
 * @module
 */

import { startRun } from "../classify.ts";
import { CrunchError, ParseError, RecordError } from "../errors.ts";
import { type Input, planInput } from "../input/source.ts";
import { resolveRunOptions } from "../options.ts";
import { delimiterOf } from "../formats/format.ts";
import { columnsOf, encodeResult } from "../formats/encode.ts";
import { OutputDocument } from "../run/document.ts";
import { parseDelimited } from "../formats/csv.ts";
import { parseNdjson } from "../formats/ndjson.ts";
import type { Command } from "./args.ts";
import type { Sink } from "./sink.ts";

/** Where a record lies in the input. */
interface Position {
  index: number;
  line: number;
}

/** The record indexes an errors file lists. */
async function listed(path: string): Promise<Set<number>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new CrunchError(`cannot read --retry-errors ${path}: ${(error as Error).message}`);
  }
  const indexes = new Set<number>();
  text.split("\n").forEach((line, k) => {
    if (line.trim() === "") return;
    let entry: { index?: unknown };
    try {
      entry = JSON.parse(line);
    } catch {
      throw new CrunchError(`${path}, line ${k + 1}: not an errors file line (not JSON)`);
    }
    if (!Number.isSafeInteger(entry.index)) {
      throw new CrunchError(`${path}, line ${k + 1}: no record index in this line`);
    }
    indexes.add(entry.index as number);
  });
  return indexes;
}

/** The records of `command.input` whose index is in `wanted`, read and parsed here, in order. */
async function* records(
  command: Command,
  wanted: Set<number>,
  positions: Position[],
  malformed: ParseError[],
): AsyncGenerator<unknown> {
  const options = resolveRunOptions({
    format: command.format,
    delimiter: command.delimiter,
    header: command.header,
    columns: command.columns,
  });
  const plan = planInput(command.input as Input, { ...options, reader: "main" });
  try {
    const { head, source } = await plan.open();
    const delimiter = delimiterOf(head.format, head.delimiter);
    let index = 0;
    let line = head.firstLine;
    for (let task = await source.next(); task !== null; task = await source.next()) {
      if (task.body.kind !== "chunk") continue;
      const { buffer, start, end } = task.body;
      const text = new TextDecoder().decode(new Uint8Array(buffer, start, end - start));
      const parsed = head.format === "ndjson"
        ? parseNdjson(text)
        : parseDelimited(text, delimiter, head.columns ?? []);
      for (let k = 0; k < parsed.rows.length; k++, index++) {
        if (!wanted.has(index)) continue;
        const at = { index, line: line + parsed.lines[k] - 1 };
        const bad = parsed.bad.get(k);
        wanted.delete(index);
        if (bad) {
          // Still malformed: an error again, nothing to classify.
          const raw = text.slice(bad.from, bad.to).replace(/\r?\n$/, "");
          malformed.push(new ParseError(bad.reason, { file: command.input, ...at, text: raw }));
          if (wanted.size === 0) return;
          continue;
        }
        positions.push(at);
        yield parsed.rows[k];
        if (wanted.size === 0) return;
      }
      line += parsed.newlines;
    }
  } finally {
    plan.close();
  }
  if (wanted.size) {
    throw new CrunchError(
      `${command.input} has no record ${[...wanted][0]}: the errors file is not this input's`,
    );
  }
}

/** Runs `command` over the records its --retry-errors file lists; resolves with the counts. */
export async function retryErrors(
  command: Command,
  sink: Sink,
  errorsFile: Sink | undefined,
  errorLine: (error: RecordError | ParseError) => string,
): Promise<{ records: number; results: number; errors: number }> {
  if (command.input === undefined || command.files !== undefined) {
    throw new CrunchError("--retry-errors needs the one input file the errors file came from");
  }
  const wanted = await listed(command.retryErrors!);
  const count = wanted.size;
  const positions: Position[] = [];
  const encoder = new TextEncoder();
  const errors: (RecordError | ParseError)[] = [];
  const malformed: ParseError[] = [];
  const results = startRun<{ index: number; result: unknown }>(
    command.module,
    records(command, wanted, positions, malformed),
    {
      spec: command.spec,
      workers: command.workers,
      ordered: true,
      tagged: true,
      timeout: command.timeout,
      concurrency: command.concurrency,
      retries: command.retries,
      isolation: command.isolation,
      redis: command.redis,
      permissions: command.permissions,
      onError: (error) => errors.push(error),
    },
    { consoleToStderr: true },
  );
  // The same document a whole run writes: header, brackets and tags come from OutputDocument.
  const format = command.to;
  const document = new OutputDocument(format, command.tagged);
  /** Results that cannot be written (already at their input positions). */
  const unwritable: RecordError[] = [];
  let columns: string[] | undefined;
  let written = 0;
  for await (const { index, result } of results) {
    const at = positions[index];
    if (format === "csv") columns ??= columnsOf(result);
    let text: string;
    try {
      text = encodeResult(format, result, columns ?? []);
    } catch (error) {
      // As in a whole run: a result that cannot be written fails its record.
      unwritable.push(
        new RecordError({ ...at, file: command.input }, undefined, {
          name: (error as Error).name,
          message: `the result cannot be written as ${format}: ${(error as Error).message}`,
        }),
      );
      continue;
    }
    const encoded = command.tagged
      ? { count: 1, texts: [text], columns }
      : { count: 1, bytes: encoder.encode(format === "json" ? text : text + "\n"), columns };
    const pieces = document.write({ encoded, offsets: [0], lines: [1] }, at);
    if (pieces instanceof CrunchError) throw pieces;
    for (const bytes of pieces) await sink.write(bytes);
    written++;
  }
  for (const bytes of document.trailer()) await sink.write(bytes);
  // The indexes inside the retried records, mapped back to the input's, in input order.
  const failed: (RecordError | ParseError)[] = [
    ...malformed,
    ...unwritable,
    ...errors.map((error) => {
      const at = positions[error.index ?? 0];
      return error instanceof RecordError
        ? new RecordError({ ...at, file: command.input }, error.record, {
          name: error.cause.name,
          message: error.cause.message,
          stack: error.cause.stack,
        })
        : new ParseError((error as ParseError).reason, { ...at, file: command.input });
    }),
  ].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  for (const error of failed) errorsFile?.writeSync(encoder.encode(errorLine(error)));
  if (failed.length && errorsFile === undefined) {
    const first = failed[0];
    const reason = first instanceof RecordError
      ? `${first.cause.name}: ${first.cause.message}`
      : (first as ParseError).reason;
    throw new CrunchError(
      `record ${first.index} (line ${first.line}) failed again: ${reason}` +
        (failed.length > 1 ? ` (and ${failed.length - 1} more; --errors keeps them all)` : ""),
    );
  }
  return { records: count, results: written, errors: failed.length };
}
