/**
 * Parquet files for the tests, written by DuckDB (`duckdb.ts`): a table of
 * every common type (64-bit integers safe and not, strings with quotes,
 * newlines and emoji, booleans, doubles with nulls, dates, timestamps,
 * lists, structs, decimals), and what DuckDB itself reads back from a file,
 * in a form crunch's typed rows can be compared with.
 */
import assert from "node:assert/strict";
import { duckdb } from "./duckdb.ts";

/** The typed table of `rows` rows. */
export function typedTable(rows: number): string {
  return `SELECT i::BIGINT AS id,
    CASE i % 4 WHEN 0 THEN 'plain ' WHEN 1 THEN 'quote " and, comma ' WHEN 2 THEN E'new\\nline '
      ELSE '😀 emoji ñ ' END || i AS text,
    i % 3 = 0 AS flag,
    CASE WHEN i % 5 = 0 THEN NULL ELSE i / 7.0 END::DOUBLE AS score,
    DATE '2020-01-01' + (i % 1000)::INT AS day,
    TIMESTAMP '2021-06-01 12:00:00' + INTERVAL (i) SECOND AS at,
    CASE WHEN i % 6 = 0 THEN NULL ELSE [i, i + 1] END AS list,
    {'a': i, 'b': 'x' || i} AS st,
    9007199254740993::BIGINT + i AS unsafe,
    (i / 100)::DECIMAL(10,2) AS dec
  FROM range(${rows}) t(i)`;
}

/** Writes `select`'s rows to a Parquet file at `path` with DuckDB. */
export async function writeParquet(
  path: string,
  select: string,
  options: { compression?: string; rowGroupSize?: number } = {},
): Promise<void> {
  const { compression = "snappy", rowGroupSize = 122_880 } = options;
  await duckdb(
    `COPY (${select}) TO '${path}' (FORMAT parquet, COMPRESSION ${compression}, ` +
      `ROW_GROUP_SIZE ${rowGroupSize})`,
  );
}

/** The rows DuckDB reads from the Parquet file at `path`, in its JSON form. */
export function duckRows(path: string, columns = "*"): Promise<Record<string, unknown>[]> {
  return duckdb(`SELECT ${columns} FROM read_parquet('${path}')`);
}

/** The row groups of the Parquet file at `path`, as DuckDB lists them: each one's first column chunk. */
export async function rowGroups(
  path: string,
): Promise<{ row_group_id: string; data_page_offset: string; total_compressed_size: string }[]> {
  return await duckdb(
    `SELECT row_group_id, data_page_offset, total_compressed_size FROM parquet_metadata('${path}') ` +
      `WHERE column_id = 0 ORDER BY row_group_id`,
  ) as never;
}

const integer = (v: unknown) => typeof v === "bigint" || typeof v === "number" ? String(v) : v;

/** A row of the typed table as crunch gives it, in DuckDB's JSON form; its types checked on the way. */
export function asDuck(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    switch (key) {
      case "id":
        assert.equal(typeof value, "number", "a safe 64-bit integer is a number");
        out[key] = integer(value);
        break;
      case "unsafe":
        assert.equal(typeof value, "bigint", "an unsafe 64-bit integer is a bigint");
        out[key] = integer(value);
        break;
      case "day":
        assert.ok(value instanceof Date);
        out[key] = value.toISOString().slice(0, 10);
        break;
      case "at":
        assert.ok(value instanceof Date);
        out[key] = value.toISOString().replace("T", " ").slice(0, 19);
        break;
      case "list":
        out[key] = value === null ? null : (value as unknown[]).map(integer);
        break;
      case "st": {
        const { a, b } = value as { a: unknown; b: unknown };
        out[key] = { a: integer(a), b };
        break;
      }
      case "dec":
        assert.equal(typeof value, "number");
        out[key] = (value as number).toFixed(2);
        break;
      default:
        out[key] = value;
    }
  }
  return out;
}
