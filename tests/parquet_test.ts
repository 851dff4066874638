/**
 * Parquet inputs, checked against DuckDB: files DuckDB writes with every
 * common compression and several row-group sizes read into typed rows equal
 * to DuckDB's own reading of them; only some columns; a limit inside a row
 * group; many files; the command; and the faults (a file cut short, a
 * corrupt footer, a page that does not decompress, a server without ranges).
 */
import assert from "node:assert/strict";
import { classify, files, InputError, type Progress } from "../mod.ts";
import { collect, fixture, runCrunch } from "./helpers.ts";
import { asDuck, duckRows, rowGroups, typedTable, writeParquet } from "./parquet_data.ts";
import { duckdb } from "./duckdb.ts";
import { FolderServer } from "./http_harness.ts";

const identity = fixture("identity.ts");
const OPTIONS = { workers: 2, ordered: true, chunkBytes: 4096 } as const;
const COMPRESSIONS = ["uncompressed", "snappy", "gzip", "zstd", "brotli", "lz4", "lz4_raw"];

Deno.test("typed rows equal DuckDB's reading, for every compression and row-group size", async () => {
  const dir = await Deno.makeTempDir();
  const table = typedTable(6_000);
  const made = [
    ...COMPRESSIONS.map((compression) => ({ compression, rowGroupSize: 2048 })),
    { compression: "zstd", rowGroupSize: 100_000 },
  ];
  // One DuckDB process writes them all.
  await duckdb(
    ...made.map(({ compression, rowGroupSize }) =>
      `COPY (${table}) TO '${dir}/${compression}-${rowGroupSize}.parquet' ` +
      `(FORMAT parquet, COMPRESSION ${compression}, ROW_GROUP_SIZE ${rowGroupSize})`
    ),
  );
  for (const { compression, rowGroupSize } of made) {
    const path = `${dir}/${compression}-${rowGroupSize}.parquet`;
    let last: Progress | undefined;
    const results = classify<Record<string, unknown>>(identity, path, {
      ...OPTIONS,
      onProgress: (p) => last = p,
    });
    const got = await collect(results);
    assert.deepEqual(got.map(asDuck), await duckRows(path), path);
    assert.equal(last!.reader, "workers");
    assert.equal(last!.bytesRead, last!.bytesTotal);
    // One row group of 6,000 rows is cut into slices: two tasks a worker.
    const tasks = results.report()!.workers.reduce((n, w) => n + w.tasks, 0);
    if (rowGroupSize === 100_000) assert.equal(tasks, 4, path);
  }
  const groups = await rowGroups(`${dir}/zstd-2048.parquet`);
  assert.ok(groups.length >= 3, `${groups.length} row groups`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fields reads only some columns; a limit stops inside a row group; many files", async () => {
  const dir = await Deno.makeTempDir();
  await writeParquet(`${dir}/a.parquet`, typedTable(5_000), { rowGroupSize: 2048 });
  await writeParquet(`${dir}/b.parquet`, typedTable(3_000), { rowGroupSize: 2048 });
  const some = await collect(classify<Record<string, unknown>>(identity, `${dir}/a.parquet`, {
    ...OPTIONS,
    fields: ["text", "id"],
  }));
  assert.deepEqual(some.map(asDuck), await duckRows(`${dir}/a.parquet`, "text, id"));
  assert.deepEqual(Object.keys(some[0]).sort(), ["id", "text"]);
  const limited = await collect(classify<{ id: number }>(identity, `${dir}/a.parquet`, {
    ...OPTIONS,
    limit: 2_500,
  }));
  assert.deepEqual(limited.map((r) => r.id), Array.from({ length: 2_500 }, (_, i) => i));
  const many = await collect(classify(identity, files(`${dir}/*.parquet`), {
    ...OPTIONS,
    tagged: true,
  })) as unknown as { file: string; result: { id: number } }[];
  assert.deepEqual(many.map((r) => r.result.id), [
    ...Array.from({ length: 5_000 }, (_, i) => i),
    ...Array.from({ length: 3_000 }, (_, i) => i),
  ]);
  assert.deepEqual([...new Set(many.map((r) => r.file))], [`${dir}/a.parquet`, `${dir}/b.parquet`]);
  await assert.rejects(
    collect(classify(identity, `${dir}/a.parquet`, { ...OPTIONS, fields: ["id", "nope"] })),
    (e: unknown) =>
      e instanceof InputError && /no column "nope".*its columns are id, text, flag/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the command reads Parquet by its extension, writes CSV of the chosen fields", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/reviews.parquet`;
  await writeParquet(path, typedTable(4_000), { compression: "zstd", rowGroupSize: 2048 });
  const { code, stderr } = await runCrunch([
    identity.pathname,
    path,
    "--fields",
    "id,text,day",
    "-t",
    "csv",
    "--ordered",
    "-o",
    `${dir}/out.csv`,
  ]);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /4,000 records in, 4,000 results out, 0 errors/);
  // DuckDB reads crunch's CSV back: the same rows as its own reading of the Parquet file.
  const back = await duckdb(
    `SELECT id::BIGINT AS id, text, day::DATE AS day FROM read_csv('${dir}/out.csv', ` +
      `header = true, columns = {'id': 'VARCHAR', 'text': 'VARCHAR', 'day': 'VARCHAR'})`,
  );
  assert.deepEqual(back, await duckRows(path, "id, text, day"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a Parquet file cut short, with a corrupt footer or a corrupt page is an InputError naming what", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/good.parquet`;
  await writeParquet(path, typedTable(8_000), { compression: "zstd", rowGroupSize: 2048 });
  const bytes = await Deno.readFile(path);
  const fails = async (name: string, content: Uint8Array, reason: RegExp) => {
    await Deno.writeFile(`${dir}/${name}`, content);
    await assert.rejects(
      collect(classify(identity, `${dir}/${name}`, OPTIONS)),
      (e: unknown) => {
        assert.ok(e instanceof InputError, String(e));
        assert.equal(e.file, `${dir}/${name}`);
        assert.match(e.reason, reason);
        return true;
      },
    );
  };
  await fails("short.parquet", bytes.subarray(0, bytes.length - 100), /cut short.*"PAR1"/);
  const footer = new DataView(bytes.buffer).getUint32(bytes.length - 8, true);
  const badFooter = bytes.slice();
  badFooter.fill(0xff, bytes.length - 8 - footer + 10, bytes.length - 8 - 10);
  await fails("footer.parquet", badFooter, /footer is corrupt/);
  await fails("csv.parquet", new TextEncoder().encode("a,b\n1,2\n"), /not a Parquet file/);
  // Row group 2's first column chunk: the zstd frame of its page (after the page's header)
  // overwritten from its magic number on, so that it cannot be decompressed.
  const groups = await rowGroups(path);
  const badPage = bytes.slice();
  const page = Number(groups[2].data_page_offset);
  const frame = bytes.subarray(page).findIndex((_, i, b) =>
    b[i] === 0x28 && b[i + 1] === 0xb5 && b[i + 2] === 0x2f && b[i + 3] === 0xfd
  );
  assert.ok(frame > 0 && frame < 64, `zstd frame at ${frame}`);
  badPage.fill(0xa5, page + frame, page + frame + 16);
  await fails("page.parquet", badPage, /^row group 2: /);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a Parquet object from a server without byte ranges is refused, saying why", async () => {
  const root = await Deno.makeTempDir();
  await writeParquet(`${root}/t.parquet`, typedTable(100));
  const server = await FolderServer.python(root);
  try {
    await assert.rejects(
      collect(classify(identity, server.url("t.parquet"), OPTIONS)),
      (e: unknown) => e instanceof InputError && /ignores byte-range requests/.test(e.message),
    );
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
});
