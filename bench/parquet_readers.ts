/**
 * How the Parquet library was chosen: hyparquet (pure JavaScript, reads by
 * byte range from an AsyncBuffer) against parquet-wasm (Rust's parquet
 * crate in WebAssembly, to Arrow, then rows through apache-arrow), for
 * correctness against DuckDB's reading of the typed test table and for
 * speed (rows a second into row objects, one thread, the file in memory)
 * on the bench shapes DuckDB wrote as Parquet (case 16 writes them).
 *
 * Usage: `deno run -A bench/parquet_readers.ts [reps]`
 *
 * @module
 */

import { parquetMetadata, parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import * as wasm from "parquet-wasm";
import * as arrow from "apache-arrow";
import { asDuck, duckRows, typedTable, writeParquet } from "../tests/parquet_data.ts";
import { showSpread, spread } from "./stats.ts";

const reps = Number(Deno.args[0] ?? 5);

/** hyparquet's rows. */
async function byHyparquet(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  let rows: Record<string, unknown>[] = [];
  const file = bytes.buffer as ArrayBuffer;
  await parquetRead({
    file,
    metadata: parquetMetadata(file),
    compressors,
    rowFormat: "object",
    onComplete: (r) => rows = r,
  });
  return rows;
}

/** parquet-wasm's Arrow table, as rows. */
function byParquetWasm(bytes: Uint8Array): Record<string, unknown>[] {
  const table = arrow.tableFromIPC(wasm.readParquet(bytes).intoIPCStream());
  const rows: Record<string, unknown>[] = [];
  for (const row of table) rows.push(row.toJSON() as Record<string, unknown>);
  return rows;
}

// Correctness: the typed table (64-bit integers, dates, timestamps, lists, structs, decimals).
const dir = await Deno.makeTempDir();
await writeParquet(`${dir}/typed.parquet`, typedTable(2_000), { compression: "zstd" });
const want = JSON.stringify(await duckRows(`${dir}/typed.parquet`));
const typed = await Deno.readFile(`${dir}/typed.parquet`);
for (const [name, read] of [["hyparquet", byHyparquet], ["parquet-wasm", byParquetWasm]] as const) {
  let verdict;
  const rows = (await read(typed)).map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, normal(v)]))
  );
  try {
    verdict = JSON.stringify(rows.map(asDuck)) === want
      ? "equal to DuckDB's reading"
      : "DIFFERS from DuckDB";
  } catch {
    // Which columns do not come as the types a plug-in should get.
    const types = Object.entries(rows[7]).map(([k, v]) =>
      `${k}: ${v === null ? "null" : (v as object).constructor?.name ?? typeof v}`
    );
    verdict = `not the types a plug-in should get (row 7: ${types.join(", ")})`;
  }
  console.log(`typed table, ${name}: ${verdict}`);
}

/** Arrow's values as hyparquet gives them: plain arrays and objects, safe integers as numbers. */
function normal(value: unknown): unknown {
  if (typeof value === "bigint") return value <= Number.MAX_SAFE_INTEGER ? Number(value) : value;
  if (value instanceof arrow.Vector) return [...value].map(normal);
  if (
    value !== null && typeof value === "object" && "toJSON" in value && !(value instanceof Date)
  ) {
    return normal((value as { toJSON(): unknown }).toJSON());
  }
  if (Array.isArray(value)) return value.map(normal);
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normal(v)]));
  }
  return value;
}

// Speed, on the bench's shapes (written by case 16).
const shapes = new URL("../.cache/bench/shapes-100mb/", import.meta.url).pathname;
for (const name of ["plain.zstd", "multibyte.zstd", "wide-100.zstd"]) {
  const path = `${shapes}${name}.parquet`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    console.log(`${name}: not there (run deno task bench --only=16 first)`);
    continue;
  }
  const times: Record<string, number[]> = { hyparquet: [], "parquet-wasm": [] };
  let rows = 0;
  for (let r = 0; r < reps; r++) {
    for (
      const [label, read] of [["hyparquet", byHyparquet], ["parquet-wasm", byParquetWasm]] as const
    ) {
      const started = performance.now();
      rows = (await read(bytes)).length;
      times[label].push(performance.now() - started);
    }
  }
  const rate = (ms: number[]) => spread(ms.map((t) => rows / t * 1000));
  const ratio = spread(times.hyparquet.map((t, r) => times["parquet-wasm"][r] / t));
  console.log(
    `${name}: ${rows} rows; rows/s hyparquet ${showSpread(rate(times.hyparquet), 0)}, ` +
      `parquet-wasm ${showSpread(rate(times["parquet-wasm"]), 0)}; hyparquet / parquet-wasm ` +
      showSpread(ratio),
  );
}
await Deno.remove(dir, { recursive: true });
