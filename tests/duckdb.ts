/**
 * DuckDB, an implementation no one here wrote, for the Parquet tests: it
 * writes the Parquet files crunch reads, and reads back those crunch writes.
 * It loads a native library (FFI), which the test runner is not allowed, so
 * tests run it as a subprocess: `deno run -A tests/duckdb.ts SQL...` runs
 * each statement and prints the last one's rows as JSON (DuckDB's own JSON
 * form: 64-bit integers and decimals as strings, dates as `YYYY-MM-DD`).
 */
import { runDeno } from "./helpers.ts";

/** Runs `statements` in a DuckDB subprocess; the rows of the last one. */
export async function duckdb(...statements: string[]): Promise<Record<string, unknown>[]> {
  const script = new URL(import.meta.url).pathname;
  const { code, stdout, stderr } = await runDeno(["run", "-A", script, ...statements]);
  if (code !== 0) throw new Error(`duckdb failed (${code}): ${stderr}`);
  return JSON.parse(stdout);
}

if (import.meta.main) {
  // Loaded here only: importing it loads a native library, which needs --allow-ffi.
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const db = await DuckDBInstance.create(":memory:");
  const connection = await db.connect();
  let rows: unknown[] = [];
  for (const sql of Deno.args) {
    const reader = await connection.runAndReadAll(sql);
    rows = reader.getRowObjectsJson();
  }
  console.log(JSON.stringify(rows));
  connection.closeSync();
}
