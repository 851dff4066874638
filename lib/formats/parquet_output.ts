/**
 * Results as a Parquet document (hyparquet-writer), row group by row group:
 * the schema is fixed by the first row group's results (each key a column,
 * its type from its values), and every later result is checked against it,
 * so that a result that does not fit is an error for its record, never a
 * column silently changed. Compression by Deno's native zlib (zstd, gzip,
 * brotli) or the writer's own snappy.
 *
 * @module
 */

import * as zlib from "node:zlib";
// Inline, like hyparquet: a plug-in's own config need not map it.
// deno-lint-ignore no-import-prefix
import type { ParquetWriter } from "npm:hyparquet-writer@0.17.0";
import { isPlainObject, jsonLoss } from "./encode.ts";

/** How a Parquet output's pages are compressed. */
export type ParquetCompression = "zstd" | "snappy" | "gzip" | "brotli" | "none";

/** The compressions, for the option's choices. */
export const PARQUET_COMPRESSIONS = ["zstd", "snappy", "gzip", "brotli", "none"] as const;

/** Rows of a row group, unless the caller says otherwise. */
export const ROW_GROUP_ROWS = 100_000;

/** A column's type, declared or from the values of the first row group. */
type ColumnType = "BOOLEAN" | "INT64" | "DOUBLE" | "STRING" | "TIMESTAMP" | "JSON";

/** A type a Parquet output's column can be declared with (`parquetSchema`). */
export type ParquetType = "boolean" | "int64" | "double" | "string" | "timestamp" | "json";

/** The types, for the option's checks. */
export const PARQUET_TYPES: readonly ParquetType[] = [
  "boolean",
  "int64",
  "double",
  "string",
  "timestamp",
  "json",
];

/** A declared schema: each column's name and type, in order. */
export type ParquetSchema = Record<string, ParquetType>;

const SCHEMA: Record<ColumnType, Record<string, string>> = {
  BOOLEAN: { type: "BOOLEAN" },
  INT64: { type: "INT64" },
  DOUBLE: { type: "DOUBLE" },
  STRING: { type: "BYTE_ARRAY", converted_type: "UTF8" },
  TIMESTAMP: { type: "INT64", converted_type: "TIMESTAMP_MILLIS" },
  JSON: { type: "BYTE_ARRAY", converted_type: "JSON" },
};

/** A result that does not fit the schema, and the caller's tag for it. */
export interface Misfit<T> {
  tag: T;
  reason: string;
}

/** The kind of a value, as far as a column's type goes (undefined for null). */
function kindOf(value: unknown): ColumnType | undefined {
  if (value === null || value === undefined) return undefined;
  switch (typeof value) {
    case "boolean":
      return "BOOLEAN";
    case "bigint":
      return "INT64";
    case "number":
      return Number.isSafeInteger(value) ? "INT64" : "DOUBLE";
    case "string":
      return "STRING";
  }
  if (value instanceof Date) return "TIMESTAMP";
  return "JSON";
}

/** The column's type for `kinds` (counted over the first row group): the commonest. */
function typeOf(kinds: Map<ColumnType, number>): ColumnType {
  // Integers and fractions together are doubles.
  const doubles = kinds.get("DOUBLE");
  if (doubles !== undefined && kinds.has("INT64")) {
    kinds.set("DOUBLE", doubles + kinds.get("INT64")!);
    kinds.delete("INT64");
  }
  let best: ColumnType = "STRING";
  let most = 0;
  for (const [kind, count] of kinds) if (count > most) [best, most] = [kind, count];
  return best;
}

/** `value` as column `type` holds it, or why it cannot be. */
function fit(value: unknown, type: ColumnType): { value: unknown } | { why: string } {
  if (value === null || value === undefined) return { value: null };
  const kind = kindOf(value);
  if (type === "DOUBLE" && kind === "INT64") {
    if (typeof value === "number" || Number.isSafeInteger(Number(value))) {
      return { value: Number(value) };
    }
    return { why: "a bigint too large for a double" };
  }
  if (kind !== type) return { why: `${describe(value)}` };
  if (type === "INT64") return { value: BigInt(value as number) };
  if (type === "TIMESTAMP" && Number.isNaN((value as Date).getTime())) {
    return { why: "an invalid Date" };
  }
  if (type === "JSON") {
    const loss = jsonLoss(value);
    if (loss) return { why: loss.replace(/^result/, "it") };
  }
  return { value };
}

function describe(value: unknown): string {
  const kind = kindOf(value);
  return kind === "INT64"
    ? `an integer (${value})`
    : kind === "DOUBLE"
    ? `a number (${value})`
    : kind === "STRING"
    ? `a string (${JSON.stringify(String(value).slice(0, 40))})`
    : kind === "BOOLEAN"
    ? `a boolean`
    : kind === "TIMESTAMP"
    ? "a Date"
    : Array.isArray(value)
    ? "an array"
    : "an object";
}

/** The compressors of the codecs the writer does not have itself. */
function compressors(): Record<string, (input: Uint8Array) => Uint8Array> {
  const view = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.length);
  return {
    ZSTD: (input) => view(zlib.zstdCompressSync(input)),
    GZIP: (input) => view(zlib.gzipSync(input)),
    BROTLI: (input) => view(zlib.brotliCompressSync(input)),
  };
}

/** A Parquet document being written, row group by row group. */
export class ParquetEncoder<T> {
  readonly #compression: ParquetCompression;
  readonly #rowGroupRows: number;
  /** Results added before the schema is fixed (the first row group's, undeclared). */
  #rows: Record<string, unknown>[] = [];
  #tags: T[] = [];
  /** The column values of each result added once the schema is fixed, fitted to it. */
  #fitted: unknown[][] = [];
  #columns: { name: string; type: ColumnType }[] | undefined;
  #writer: ParquetWriter | undefined;
  #bytes: { index: number; getBuffer(): ArrayBuffer } | undefined;
  #written = 0;
  #declared: boolean;

  /**
   * A document with `compression`, of row groups of `rowGroupRows` results;
   * its columns `declared`, or fixed by the first row group's results.
   */
  constructor(
    compression: ParquetCompression = "zstd",
    rowGroupRows = ROW_GROUP_ROWS,
    declared?: ParquetSchema,
  ) {
    this.#compression = compression;
    this.#rowGroupRows = rowGroupRows;
    this.#declared = declared !== undefined;
    if (declared) {
      this.#columns = Object.entries(declared).map(([name, type]) => ({
        name,
        type: type.toUpperCase() as ColumnType,
      }));
    }
  }

  /** Results written so far. */
  get written(): number {
    return this.#written;
  }

  /**
   * Adds a result (an object: its keys are columns; anything else: a
   * column named `result`), `tag` naming it for errors. Returns why it does
   * not fit, when the schema is fixed and it does not.
   */
  add(result: unknown, tag: T): string | undefined {
    const row = isPlainObject(result) ? result : { result };
    if (this.#columns === undefined) {
      this.#rows.push(row);
      this.#tags.push(tag);
      return undefined;
    }
    const values = this.#fit(row);
    if (typeof values === "string") return values;
    this.#fitted.push(values);
    return undefined;
  }

  /** The values of `row`, one a column, as the fixed schema holds them; or why it does not fit. */
  #fit(row: Record<string, unknown>): unknown[] | string {
    const columns = this.#columns!;
    for (const key in row) {
      if (row[key] !== undefined && !columns.some((c) => c.name === key)) {
        return `result has key ${JSON.stringify(key)}, not among the Parquet columns ` +
          `${columns.map((c) => c.name).join(", ")}`;
      }
    }
    const values: unknown[] = new Array(columns.length);
    for (const [c, { name, type }] of columns.entries()) {
      const fitted = fit(row[name], type);
      if ("why" in fitted) return this.#misfit(name, fitted.why, type);
      values[c] = fitted.value;
    }
    return values;
  }

  #misfit(name: string, why: string, type: ColumnType): string {
    const fixed = this.#declared ? "declared" : "fixed by the first row group's results";
    return `result.${name} is ${why}, but the Parquet column ${name} is ${type} (${fixed})`;
  }

  /** True when a row group's worth of results waits to be written. */
  get full(): boolean {
    return this.#rows.length + this.#fitted.length >= this.#rowGroupRows;
  }

  /**
   * Writes the results added so far as a row group: its bytes (the file's
   * first bytes with the first), and the results of the first row group
   * that did not fit the schema they fixed.
   */
  async flush(): Promise<{ bytes: Uint8Array; misfits: Misfit<T>[] }> {
    const misfits: Misfit<T>[] = [];
    if (this.#writer === undefined) await this.#start();
    // The first row group's results, checked against the schema they fixed.
    for (const [r, row] of this.#rows.entries()) {
      const values = this.#fit(row);
      if (typeof values === "string") misfits.push({ tag: this.#tags[r], reason: values });
      else this.#fitted.push(values);
    }
    const columns = this.#columns!;
    const data: unknown[][] = columns.map(() => []);
    for (const values of this.#fitted) {
      for (let c = 0; c < columns.length; c++) data[c].push(values[c]);
    }
    const rows = data[0]?.length ?? 0;
    if (rows > 0) {
      await this.#writer!.write({
        columnData: columns.map(({ name }, c) => ({ name, data: data[c] })) as never,
        rowGroupSize: rows,
      });
    }
    this.#written += rows;
    this.#rows = [];
    this.#tags = [];
    this.#fitted = [];
    return { bytes: this.#take(), misfits };
  }

  /** The rest of the document: the last row group and the footer; misfits as for flush(). */
  async finish(): Promise<{ bytes: Uint8Array; misfits: Misfit<T>[] }> {
    const last = await this.flush();
    await this.#writer!.finish();
    const tail = this.#take();
    const bytes = new Uint8Array(last.bytes.length + tail.length);
    bytes.set(last.bytes);
    bytes.set(tail, last.bytes.length);
    return { bytes, misfits: last.misfits };
  }

  /** Fixes the schema (unless declared) from the results added so far, and starts the document. */
  async #start(): Promise<void> {
    this.#columns ??= this.#inferred();
    // deno-lint-ignore no-import-prefix
    const { ByteWriter, ParquetWriter } = await import("npm:hyparquet-writer@0.17.0");
    const bytes = new ByteWriter();
    const schema = [
      { name: "root", num_children: this.#columns.length },
      ...this.#columns.map(({ name, type }) => ({
        name,
        repetition_type: "OPTIONAL",
        ...SCHEMA[type],
      })),
    ];
    this.#writer = new ParquetWriter({
      writer: bytes,
      schema: schema as never,
      codec: this.#compression === "none"
        ? "UNCOMPRESSED"
        : this.#compression.toUpperCase() as never,
      compressors: compressors() as never,
      createdBy: "crunch",
    });
    this.#bytes = bytes;
  }

  /** The columns the results added so far imply: each key, of its values' commonest type. */
  #inferred(): { name: string; type: ColumnType }[] {
    const kinds = new Map<string, Map<ColumnType, number>>();
    for (const row of this.#rows) {
      for (const key in row) {
        let counts = kinds.get(key);
        if (counts === undefined) kinds.set(key, counts = new Map());
        const kind = kindOf(row[key]);
        if (kind !== undefined) counts.set(kind, (counts.get(kind) ?? 0) + 1);
      }
    }
    if (kinds.size === 0) kinds.set("result", new Map());
    return [...kinds].map(([name, counts]) => ({ name, type: typeOf(counts) }));
  }

  /** The bytes written since the last take, the writer's buffer emptied. */
  #take(): Uint8Array {
    const writer = this.#bytes!;
    const bytes = new Uint8Array(writer.getBuffer());
    writer.index = 0;
    return bytes;
  }
}
