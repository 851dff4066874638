/**
 * Case 16: Parquet input against the same records as CSV, in the same
 * rounds. DuckDB writes each shape's CSV as Parquet (its types inferred;
 * zstd, and snappy for the plain shape, in DuckDB's default row groups);
 * one pool classifies both, with the trivial classifier and the seed
 * workload. Records per second, Parquet as a ratio of CSV.
 *
 * @module
 */

import { Pool } from "../../mod.ts";
import { type Context, exists, here } from "../context.ts";
import { inProcess, ratioOf, rounds } from "../runner.ts";
import { SHAPES } from "../shapes.ts";
import { shapeFile, TRIVIAL } from "./shapes.ts";
import { duckdb } from "../../tests/duckdb.ts";

const LEXICON = here("../examples/lexicon.ts");
const CASE = "16 Parquet input";

/** Counts what `pool` gives for `input`. */
async function count(pool: Pool, input: string): Promise<number> {
  let n = 0;
  for await (const batch of pool.classify(input).batches()) n += batch.length;
  return n;
}

/** The shape's CSV written as Parquet with `compression`, once. */
async function asParquet(csv: string, compression: string): Promise<string> {
  const path = csv.replace(/\.[a-z]+$/, `.${compression}.parquet`);
  if (!(await exists(path))) {
    await duckdb(
      `COPY (SELECT * FROM read_csv('${csv}')) TO '${path}' (FORMAT parquet, COMPRESSION ${compression})`,
    );
  }
  return path;
}

/** Case 16. */
export async function parquetInput(ctx: Context): Promise<void> {
  const plans: [string, URL, [string, string][]][] = [
    ["trivial", TRIVIAL, [
      ["plain", "zstd"],
      ["plain", "snappy"],
      ["quoted-5pct", "zstd"],
      ["multibyte", "zstd"],
      ["wide-100", "zstd"],
    ]],
    ["seed (Map lexicon)", LEXICON, [["plain", "zstd"]]],
  ];
  for (const [name, module, shapes] of plans) {
    const pool = await Pool.start(module, { workers: ctx.cores });
    try {
      for (const [shapeName, compression] of shapes) {
        const csv = await shapeFile(ctx, SHAPES.find((s) => s.name === shapeName)!);
        const parquet = await asParquet(csv, compression);
        const [byCsv, byParquet] = await rounds(
          [
            inProcess("CSV", () => count(pool, csv)),
            inProcess(`Parquet (${compression})`, () => count(pool, parquet)),
          ],
          ctx.reps,
          (line) => ctx.log(`parquet ${name} ${shapeName}: ${line}`),
        );
        if (byCsv.records !== byParquet.records) {
          throw new Error(
            `${shapeName}: ${byCsv.records} CSV records, ${byParquet.records} Parquet`,
          );
        }
        const where = `${name}, ${shapeName}, ${ctx.cores} workers: `;
        ctx.rows.push({ case: CASE, variant: where + byCsv.label, rate: byCsv.rate });
        ctx.rows.push({
          case: CASE,
          variant: where + byParquet.label,
          rate: byParquet.rate,
          ratio: ratioOf(byParquet, byCsv),
          ratioOf: "of the records/s from the same records as CSV",
        });
      }
    } finally {
      await pool.close();
    }
  }
}
