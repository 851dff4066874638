/**
 * Parquet output (`-t parquet`, `encode: "parquet"`), read back by DuckDB:
 * the schema from the results, every compression, row groups of 100,000
 * results, tagged rows, a result that does not fit its column (an error for
 * its record, as onError says), and a file written whole or not at all.
 */
import assert from "node:assert/strict";
import { classify, RecordError } from "../mod.ts";
import { collect, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";
import { duckRows, typedTable, writeParquet } from "./parquet_data.ts";
import { duckdb } from "./duckdb.ts";

const identity = fixture("identity.ts");
const misfit = fixture("misfit.ts");

/** The bytes of a run with `encode`, joined. */
function joined(pieces: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const piece of pieces) out.set(piece, at), at += piece.length;
  return out;
}

Deno.test("-t parquet writes the results' columns and types, with every compression, as DuckDB reads them", async () => {
  const dir = await Deno.makeTempDir();
  const input = `${dir}/in.parquet`;
  await writeParquet(input, typedTable(3_000), { rowGroupSize: 2048 });
  const want = await duckRows(input, `id, text, flag, score, "at", unsafe`);
  for (const compression of ["zstd", "snappy", "gzip", "brotli", "none"]) {
    const out = `${dir}/out-${compression}.parquet`;
    const { code, stderr } = await runCrunch([
      identity.pathname,
      input,
      "-t",
      "parquet",
      "--parquet-compression",
      compression,
      "--ordered",
      "-o",
      out,
    ]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(await duckRows(out, `id, text, flag, score, "at", unsafe`), want, compression);
    const types = await duckdb(`DESCRIBE SELECT * FROM read_parquet('${out}')`);
    assert.deepEqual(
      Object.fromEntries(types.map((t) => [t.column_name, t.column_type])),
      {
        id: "BIGINT",
        text: "VARCHAR",
        flag: "BOOLEAN",
        score: "DOUBLE",
        day: "TIMESTAMP",
        at: "TIMESTAMP",
        list: "JSON",
        st: "JSON",
        unsafe: "BIGINT",
        dec: "DOUBLE",
      },
    );
    const codecs = await duckdb(
      `SELECT DISTINCT compression FROM parquet_metadata('${out}')`,
    );
    assert.deepEqual(codecs.map((c) => c.compression), [
      compression === "none" ? "UNCOMPRESSED" : compression.toUpperCase(),
    ]);
  }
  // Lists and structs are JSON columns holding what the result held.
  const lists = await duckdb(
    `SELECT list::VARCHAR AS list, st::VARCHAR AS st FROM read_parquet('${dir}/out-zstd.parquet') LIMIT 2`,
  );
  assert.deepEqual(lists, [{ list: null, st: '{"a":0,"b":"x0"}' }, {
    list: "[1,2]",
    st: '{"a":1,"b":"x1"}',
  }]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("encode parquet in the library: row groups of 100,000 results, tagged rows carry index and line", async () => {
  const rows = Array.from({ length: 250_000 }, (_, i) => ({ id: String(i) }));
  const pieces = await collect(classify(misfit, rows.filter((r) => r.id !== "7"), {
    workers: 2,
    encode: "parquet",
    ordered: true,
  }));
  const path = await tempFile("lib.parquet", joined(pieces));
  const groups = await duckdb(
    `SELECT row_group_id, row_group_num_rows AS n FROM parquet_metadata('${path}') ` +
      `WHERE column_id = 0 ORDER BY row_group_id`,
  );
  assert.deepEqual(groups.map((g) => Number(g.n)), [100_000, 100_000, 49_999]);
  const sums = await duckdb(`SELECT count(*) AS n, sum(v) AS v FROM read_parquet('${path}')`);
  assert.deepEqual(sums, [{ n: "249999", v: String(2 * (249_999 * 250_000 / 2 - 7)) }]);
  const csv = await tempFile("tagged.csv", numberedCsv(50));
  const tagged = joined(
    await collect(classify(identity, csv, { workers: 2, encode: "parquet", tagged: true })),
  );
  const back = await duckdb(
    `SELECT index, line, id FROM read_parquet('${await tempFile("t.parquet", tagged)}') ` +
      "ORDER BY index LIMIT 2",
  );
  assert.deepEqual(back, [{ index: "0", line: "2", id: "0" }, { index: "1", line: "3", id: "1" }]);
});

Deno.test("a result that does not fit its Parquet column is a RecordError; a failed run writes no file", async () => {
  const rows = Array.from({ length: 20 }, (_, i) => ({ id: String(i) }));
  await assert.rejects(
    collect(classify(misfit, rows, { workers: 2, encode: "parquet" })),
    (e: unknown) => {
      assert.ok(e instanceof RecordError, String(e));
      assert.equal(e.index, 7);
      assert.match(
        e.message,
        /result\.v is a string \("seven"\), but the Parquet column v is INT64/,
      );
      return true;
    },
  );
  const skipped = joined(
    await collect(classify(misfit, rows, { workers: 2, encode: "parquet", onError: "skip" })),
  );
  const back = await duckdb(
    `SELECT id FROM read_parquet('${await tempFile("s.parquet", skipped)}') ORDER BY id`,
  );
  assert.deepEqual(back.map((r) => r.id), rows.map((r) => r.id).filter((id) => id !== "7"));
  // The command: the file named by -o is left as it was when the run fails.
  const dir = await Deno.makeTempDir();
  const input = await tempFile("ids.csv", "id\n" + rows.map((r) => r.id).join("\n") + "\n");
  await Deno.writeTextFile(`${dir}/out.parquet`, "before");
  const failed = await runCrunch([
    misfit.pathname,
    input,
    "-t",
    "parquet",
    "-o",
    `${dir}/out.parquet`,
  ]);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /record 7: TypeError: its result does not fit the Parquet output/);
  assert.equal(await Deno.readTextFile(`${dir}/out.parquet`), "before");
  const errors = await runCrunch([
    misfit.pathname,
    input,
    "-t",
    "parquet",
    "-o",
    `${dir}/out.parquet`,
    "--errors",
    `${dir}/errors.ndjson`,
  ]);
  assert.equal(errors.code, 0, errors.stderr);
  const lines = (await Deno.readTextFile(`${dir}/errors.ndjson`)).trim().split("\n");
  assert.deepEqual(lines.map((l) => JSON.parse(l).index), [7]);
  const resumed = await runCrunch([
    misfit.pathname,
    input,
    "-t",
    "parquet",
    "-o",
    `${dir}/out.parquet`,
    "--resume",
  ]);
  assert.equal(resumed.code, 2);
  assert.match(resumed.stderr, /--resume with -t parquet/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a declared schema fixes the columns and types, in -o and in every part alike", async () => {
  const dir = await Deno.makeTempDir();
  const input = await tempFile(
    "ids.csv",
    "id\n" + Array.from({ length: 3_000 }, (_, i) => i).join("\n") + "\n",
  );
  const flags = ["-t", "parquet", "--parquet-schema", "id:int64,v:double,note:string"];
  const one = await runCrunch([
    misfit.pathname,
    input,
    ...flags,
    "-o",
    `${dir}/one.parquet`,
    "--on-error",
    "skip",
  ]);
  assert.equal(one.code, 0, one.stderr);
  const types = await duckdb(
    `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${dir}/one.parquet'))`,
  );
  assert.deepEqual(types, [
    { column_name: "id", column_type: "BIGINT" },
    { column_name: "v", column_type: "DOUBLE" },
    { column_name: "note", column_type: "VARCHAR" },
  ]);
  const parts = await runCrunch([
    misfit.pathname,
    input,
    ...flags,
    "--output-dir",
    `${dir}/parts`,
    "--chunk-bytes",
    "2k",
    "--errors",
    `${dir}/errors.ndjson`,
  ]);
  assert.equal(parts.code, 0, parts.stderr);
  const schemas = await duckdb(
    `SELECT DISTINCT name, type FROM parquet_schema('${dir}/parts/part-*.parquet') WHERE name NOT IN ('duckdb_schema', 'root') ORDER BY name`,
  );
  // One type a column over all the parts (a part of no note would have inferred another).
  assert.deepEqual(schemas, [
    { name: "id", type: "INT64" },
    { name: "note", type: "BYTE_ARRAY" },
    { name: "v", type: "DOUBLE" },
  ]);
  const counts = await duckdb(
    `SELECT count(*) AS n FROM read_parquet('${dir}/parts/part-*.parquet')`,
  );
  assert.deepEqual(counts, [{ n: "2999" }]);
  const errors = (await Deno.readTextFile(`${dir}/errors.ndjson`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.deepEqual(errors.map((e) => e.index), [7]);
  assert.match(
    errors[0].error.message,
    /result\.v is a string \("seven"\), but the Parquet column v is DOUBLE \(declared\)/,
  );
  const bad = await runCrunch([
    misfit.pathname,
    input,
    "-t",
    "parquet",
    "--parquet-schema",
    "id:int32",
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--parquet-schema must be name:type/);
  await Deno.remove(dir, { recursive: true });
});
