/** classify() and Pool over every kind of input, with real workers and real files. */
import assert from "node:assert/strict";
import { classify, Pool, type Progress, type Tagged } from "../mod.ts";
import { collect, fixture, numberedCsv, piecewise, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts");

Deno.test("a CSV file yields one object per record, keyed by the header", async () => {
  const path = await tempFile("data.csv", numberedCsv(5000));
  const rows = await collect(classify(identity, path, { workers: 2, chunkBytes: 4096 }));
  assert.equal(rows.length, 5000);
  const ids = rows.map((r) => Number((r as { id: string }).id)).sort((a, b) => a - b);
  assert.deepEqual(ids, Array.from({ length: 5000 }, (_, i) => i));
  assert.deepEqual(rows.find((r) => (r as { id: string }).id === "42"), {
    id: "42",
    text: "row 42",
  });
});

Deno.test("ordered: true yields results in input order", async () => {
  const path = await tempFile("data.csv", numberedCsv(20000));
  const rows = await collect(
    classify(fixture("policy.ts"), path, {
      workers: 2,
      chunkBytes: 2048,
      ordered: true,
      spec: { async: true },
    }),
  );
  assert.deepEqual(rows, Array.from({ length: 20000 }, (_, i) => ({ id: String(i) })));
});

Deno.test("batches() hands the same results over in arrays, ordered or not", async () => {
  const path = await tempFile("data.csv", numberedCsv(20000));
  const expected = Array.from({ length: 20000 }, (_, i) => ({ id: String(i) }));
  for (const ordered of [true, false]) {
    const arrays: unknown[][] = [];
    const run = classify(fixture("policy.ts"), path, { workers: 2, chunkBytes: 2048, ordered });
    for await (const batch of run.batches()) arrays.push(batch);
    assert.ok(arrays.length > 1, "one array per piece of results, not one in all");
    assert.ok(arrays.every((a) => a.length > 0));
    const rows = arrays.flat() as { id: string }[];
    if (!ordered) rows.sort((a, b) => Number(a.id) - Number(b.id));
    assert.deepEqual(rows, expected);
  }
});

Deno.test("batches(): breaking out stops the run, and a Pool serves the next one", async () => {
  await using pool = await Pool.start(identity, { workers: 2 });
  const path = await tempFile("data.csv", numberedCsv(50000));
  let taken = 0;
  for await (const batch of pool.classify(path, { chunkBytes: 4096 }).batches()) {
    taken += batch.length;
    if (taken > 1000) break;
  }
  assert.ok(taken > 1000 && taken < 50000);
  assert.equal((await collect(pool.classify(path))).length, 50000);
});

Deno.test("unordered results can differ from input order but hold every record", async () => {
  const path = await tempFile("data.csv", numberedCsv(3000));
  const rows = await collect(
    classify(fixture("policy.ts"), path, { workers: 2, chunkBytes: 1024, spec: { async: true } }),
  );
  assert.equal(new Set(rows.map((r) => (r as { id: string }).id)).size, 3000);
});

Deno.test("a result of undefined yields nothing", async () => {
  const path = await tempFile("data.csv", numberedCsv(100));
  const skip = ["3", "50", "99"];
  const rows = await collect(classify(fixture("policy.ts"), path, { workers: 2, spec: { skip } }));
  assert.equal(rows.length, 97);
  assert.ok(!rows.some((r) => skip.includes((r as { id: string }).id)));
});

Deno.test("tagged results carry the record index and the line where it starts", async () => {
  const text = 'id,text\n0,plain\n\n1,"two\nlines"\r\n2,x\n3,"a\n\nb"\n4,last';
  const path = await tempFile("data.csv", text);
  const tagged = await collect(
    classify(identity, path, { workers: 2, tagged: true, chunkBytes: 8 }),
  );
  const byIndex = (tagged as Tagged<{ id: string }>[]).sort((a, b) => a.index - b.index);
  assert.deepEqual(byIndex.map((t) => [t.index, t.line, t.result.id]), [
    [0, 2, "0"],
    [1, 4, "1"],
    [2, 6, "2"],
    [3, 7, "3"],
    [4, 10, "4"],
  ]);
});

Deno.test("TSV and NDJSON files, format from the extension", async () => {
  const tsv = await tempFile("data.tsv", 'id\tname\n1\tAda\n2\t"B\tC"\n');
  assert.deepEqual(await collect(classify(identity, tsv, { workers: 1, ordered: true })), [
    { id: "1", name: "Ada" },
    { id: "2", name: "B\tC" },
  ]);
  for (const ext of ["ndjson", "jsonl"]) {
    const nd = await tempFile(`data.${ext}`, '{"id":1}\n\n[1,2]\n"x"\n7');
    assert.deepEqual(await collect(classify(identity, nd, { workers: 2, ordered: true })), [
      { id: 1 },
      [1, 2],
      "x",
      7,
    ]);
  }
});

Deno.test("a file: URL works like a path; an unknown extension needs the format option", async () => {
  const path = await tempFile("data.txt", "a\n1\n");
  assert.throws(
    () => classify(identity, path),
    /cannot tell the format of .*data\.txt.*format option/,
  );
  const url = new URL(`file://${path}`);
  assert.deepEqual(await collect(classify(identity, url, { format: "csv", workers: 1 })), [{
    a: "1",
  }]);
});

Deno.test("a UTF-8 BOM is dropped and multi-byte characters survive any cut", async () => {
  const text = "\ufeffname,emoji\n" +
    Array.from({ length: 300 }, (_, i) => `n${i},é😀€${i}\n`).join("");
  const bytes = new TextEncoder().encode(text);
  const rows = await collect(
    classify(identity, piecewise(bytes, [1, 2, 3, 5, 7]), {
      format: "csv",
      workers: 2,
      chunkBytes: 13,
      ordered: true,
    }),
  );
  assert.equal(rows.length, 300);
  assert.deepEqual(rows[299], { name: "n299", emoji: "é😀€299" });
});

Deno.test("a record larger than chunkBytes still works", async () => {
  const big = "x".repeat(200_000);
  const path = await tempFile("big.csv", `id,text\n1,"${big}"\n2,small\n`);
  const rows = await collect(
    classify(identity, path, { workers: 2, chunkBytes: 1024, ordered: true }),
  );
  assert.deepEqual(rows, [{ id: "1", text: big }, { id: "2", text: "small" }]);
});

Deno.test("an open Deno.FsFile and a ReadableStream with an explicit format", async () => {
  const path = await tempFile("data.csv", numberedCsv(10));
  using file = await Deno.open(path);
  assert.equal((await collect(classify(identity, file, { format: "csv", workers: 1 }))).length, 10);
  const stream = (await Deno.open(path)).readable;
  assert.equal(
    (await collect(classify(identity, stream, { format: "csv", workers: 1 }))).length,
    10,
  );
  assert.throws(
    () => classify(identity, (async () => await Deno.open(path))() as never),
    TypeError,
  );
});

Deno.test("iterable and async iterable inputs are sent in batches", async () => {
  const rows = Array.from({ length: 2500 }, (_, i) => ({ id: i }));
  assert.deepEqual(
    await collect(classify(identity, rows, { workers: 2, ordered: true, batchSize: 100 })),
    rows,
  );
  async function* generate() {
    for (let i = 0; i < 1500; i++) yield i;
  }
  const out = await collect(
    classify(fixture("policy.ts"), generate(), { workers: 2, tagged: true }),
  );
  const tags = (out as Tagged<{ id: string }>[]).sort((a, b) => a.index - b.index);
  assert.equal(tags.length, 1500);
  assert.deepEqual(tags[1234], { index: 1234, result: { id: "1234" } });
});

Deno.test("init runs once per worker with the spec and its context", async () => {
  const rows = Array.from({ length: 5000 }, (_, i) => i);
  const spec = { lexicon: ["a", "b"], weights: new Map([["a", 1]]) };
  const out = await collect(
    classify(fixture("context.ts"), rows, { workers: 3, spec, batchSize: 50 }),
  ) as { inits: number; workerIndex: number; workers: number; spec: unknown }[];
  assert.ok(out.every((r) => r.inits === 1 && r.workers === 3));
  assert.deepEqual(out[0].spec, spec);
  assert.deepEqual(new Set(out.map((r) => r.workerIndex)), new Set([0, 1, 2]));
});

Deno.test("a Pool serves several inputs without running init again", async () => {
  await using pool = await Pool.start(fixture("context.ts"), { workers: 2, spec: "s" });
  assert.equal(pool.size, 2);
  const path = await tempFile("data.csv", numberedCsv(100));
  for (let round = 0; round < 3; round++) {
    const out = await collect(pool.classify(path)) as { inits: number }[];
    assert.equal(out.length, 100);
    assert.ok(out.every((r) => r.inits === 1));
  }
  const first = pool.classify([1, 2, 3]);
  assert.throws(() => pool.classify([4]), /busy/);
  await first.return!();
  assert.equal((await collect(pool.classify([4]))).length, 1);
});

Deno.test("close() runs once per worker when a run completes", async () => {
  const dir = await Deno.makeTempDir();
  // Two batches of rows: two workers start.
  const rows = [1, 2, 3];
  await collect(
    classify(fixture("close_marker.ts"), rows, { workers: 2, batchSize: 2, spec: { dir } }),
  );
  assert.equal(await Deno.readTextFile(`${dir}/closed-0`), "1");
  assert.equal(await Deno.readTextFile(`${dir}/closed-1`), "1");
});

Deno.test("onProgress reports records, bytes and a final total", async () => {
  const text = numberedCsv(10000);
  const path = await tempFile("data.csv", text);
  const seen: Progress[] = [];
  await collect(
    classify(identity, path, { workers: 2, chunkBytes: 8192, onProgress: (p) => seen.push(p) }),
  );
  const last = seen.at(-1)!;
  assert.ok(seen.length > 5);
  assert.equal(last.records, 10000);
  assert.equal(last.results, 10000);
  assert.equal(last.errors, 0);
  assert.equal(last.bytesRead, text.length);
  assert.equal(last.bytesTotal, text.length);
  assert.ok(seen.every((p, i) => i === 0 || p.records >= seen[i - 1].records));
});

Deno.test("bad options are rejected at once with the option's name", () => {
  assert.throws(
    () => classify(identity, [1], { workers: 0 }),
    /option workers must be a positive integer/,
  );
  assert.throws(() => classify(identity, [1], { chunkBytes: 1.5 }), /option chunkBytes/);
  assert.throws(() => classify(identity, [1], { format: "xml" as never }), /option format/);
  assert.throws(() => classify(identity, [1], { onError: "ignore" as never }), /option onError/);
  assert.throws(() => classify(identity, 42 as never), /unsupported input/);
});
