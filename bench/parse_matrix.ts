/**
 * Parsing speed on every data shape: crunch's worker parse (decode and parse
 * a 512 KiB chunk into row objects, as a worker does) beside csv-parse,
 * d3-dsv and uDSV parsing the same chunks, one thread, in the same run. Each
 * (shape, parser) pair is timed in a fresh Web Worker, so that its optimized
 * code has seen only that shape, as in a crunch worker reading one file (a
 * parser's code that has run on several shapes runs differently). Each
 * parser's records are first compared with csv-parse's (the strict
 * reference), and a parser that gives other records is marked, not just
 * timed.
 *
 * Usage: `deno run -A bench/parse_matrix.ts [dir-of-shapes] [megabytes per shape]`
 *
 * @module
 */

import { parse as csvParse } from "csv-parse/sync";
import { dsvFormat } from "d3-dsv";
import { inferSchema, initParser } from "udsv";
import { FileSource } from "../lib/input/byte_source.ts";
import { ChunkReader } from "../lib/input/chunk_reader.ts";
import { DEFAULT_CHUNK_BYTES } from "../lib/options.ts";
import { delimiterOf } from "../lib/formats/format.ts";
import { parseDelimited, parseDelimitedRows, recordParsers } from "../lib/formats/csv.ts";
import { parseNdjson } from "../lib/formats/ndjson.ts";
import { extensionOf, type Shape, SHAPES } from "./shapes.ts";
import { type Spread, spread } from "./stats.ts";

/** One parser's figures on one shape. */
export interface ParseRow {
  shape: string;
  parser: string;
  /** Decoded and parsed megabytes (of input bytes) per second, over the timed rounds. */
  mbPerSecond: Spread;
  records: number;
  /** Undefined when the parser's records equal the reference's; else what differs. */
  wrong?: string;
}

/** From a chunk's bytes to its records. */
export type Parser = (bytes: Uint8Array) => unknown[];

/** The record-aligned chunks of the first `limit` bytes of `path`, and its header. */
async function chunksOf(path: string, shape: Shape, limit: number) {
  const reader = new ChunkReader(
    await FileSource.open(path),
    shape.format,
    DEFAULT_CHUNK_BYTES,
    64 << 20,
  );
  let columns: string[] = [];
  let header = "";
  if (shape.format !== "ndjson") {
    header = new TextDecoder().decode((await reader.header())!.bytes);
    columns = parseDelimitedRows(header, delimiterOf(shape.format))[0];
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (let c = await reader.next(); c && bytes < limit; c = await reader.next()) {
    chunks.push(new Uint8Array(c.buffer, c.start, c.end - c.start).slice());
    bytes += c.end - c.start;
  }
  reader.close();
  return { chunks, columns, header, bytes };
}

/** The name of the row that only decodes (what decoding alone costs on a shape). */
export const DECODE_ONLY = "decode only (TextDecoder)";

/** The parsers compared on `shape`, each from a chunk's bytes to its records. */
export function parsersFor(
  shape: Shape,
  columns: string[],
  header: string,
): Record<string, Parser> {
  const decoder = new TextDecoder();
  const text = (bytes: Uint8Array) => decoder.decode(bytes);
  if (shape.format === "ndjson") {
    return { "crunch (workers/ndjson.ts)": (b) => parseNdjson(text(b)).rows };
  }
  const delimiter = delimiterOf(shape.format);
  const parsers = recordParsers(columns, delimiter);
  const d3 = dsvFormat(delimiter);
  let udsv: ((text: string) => unknown[]) | undefined;
  return {
    "crunch (workers/csv.ts)": (b) => parseDelimited(text(b), delimiter, columns, parsers).rows,
    "csv-parse 6.2.1 (sync)": (b) =>
      csvParse(text(b), { columns, delimiter, relax_quotes: true, skip_empty_lines: true }),
    "d3-dsv 3.0.2 parseRows + objects": (b) =>
      d3.parseRows(text(b)).map((r: string[]) => parsers.fields(r)),
    "uDSV 0.7.3 stringObjs": (b) => {
      const t = text(b);
      if (udsv === undefined) {
        const schema = inferSchema(header + t.slice(0, 1 << 16), { trim: false });
        (schema as { skip?: number }).skip = 0;
        udsv = initParser(schema).stringObjs;
      }
      return udsv(t);
    },
  };
}

/** What differs between two parsers' records of the same chunks, or undefined. */
function difference(reference: unknown[][], got: unknown[][]): string | undefined {
  let wrong = 0;
  let first: string | undefined;
  let records = 0;
  let expected = 0;
  for (let c = 0; c < reference.length; c++) {
    const a = reference[c];
    const b = got[c];
    records += b.length;
    expected += a.length;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = JSON.stringify(a[i] ?? null);
      const y = JSON.stringify(b[i] ?? null);
      if (x !== y) {
        wrong++;
        first ??= `chunk ${c} record ${i}: expected ${x.slice(0, 80)}, got ${y.slice(0, 80)}`;
      }
    }
  }
  if (wrong === 0) return undefined;
  return `${wrong} of ${expected} records differ (${records} given); first: ${first}`;
}

/** Times one parser on `chunks` in a fresh worker: MB/s of each timed round. */
function timeInWorker(
  shape: string,
  parser: string,
  chunks: Uint8Array[],
  columns: string[],
  header: string,
  reps: number,
): Promise<number[]> {
  const worker = new Worker(new URL("./parse_timer.ts", import.meta.url), { type: "module" });
  const copies = chunks.map((c) => c.slice());
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<number[]>) => {
      worker.terminate();
      resolve(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error(`${shape} ${parser}: ${event.message}`));
    };
    worker.postMessage(
      { shape, parser, chunks: copies, columns, header, reps },
      copies.map((c) => c.buffer),
    );
  });
}

/** Parses every shape with every parser, `reps` timed rounds each after a warm-up round. */
export async function parseMatrix(
  dir: string,
  megabytes: number,
  reps: number,
  log: (line: string) => void = () => {},
): Promise<ParseRow[]> {
  const rows: ParseRow[] = [];
  for (const shape of SHAPES) {
    const path = `${dir}/${shape.name}.${extensionOf(shape.format)}`;
    const { chunks, columns, header } = await chunksOf(path, shape, megabytes * 1e6);
    const parsers = parsersFor(shape, columns, header);
    // Records first, untimed: each against the reference (csv-parse; crunch for NDJSON).
    const outputs: Record<string, unknown[][]> = {};
    for (const [name, parse] of Object.entries(parsers)) outputs[name] = chunks.map(parse);
    const reference = outputs["csv-parse 6.2.1 (sync)"] ?? outputs[Object.keys(parsers)[0]];
    for (const name of [DECODE_ONLY, ...Object.keys(parsers)]) {
      const times = await timeInWorker(shape.name, name, chunks, columns, header, reps);
      const row: ParseRow = {
        shape: shape.name,
        parser: name,
        mbPerSecond: spread(times),
        records: outputs[name]?.reduce((n, c) => n + c.length, 0) ?? 0,
      };
      if (outputs[name] !== undefined && outputs[name] !== reference) {
        row.wrong = difference(reference, outputs[name]);
      }
      rows.push(row);
      log(
        `parse ${shape.name} ${name}: ${row.mbPerSecond.median.toFixed(0)} MB/s` +
          ` [${row.mbPerSecond.min.toFixed(0)}-${row.mbPerSecond.max.toFixed(0)}]` +
          (row.wrong ? ` WRONG: ${row.wrong}` : ""),
      );
    }
  }
  return rows;
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? new URL("../.cache/bench/shapes", import.meta.url).pathname;
  const rows = await parseMatrix(dir, Number(Deno.args[1] ?? 32), 5, console.error);
  console.log(JSON.stringify(rows, null, 2));
}
