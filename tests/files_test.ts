/** Many files as one input: paths, globs, directories, --files-from; headers, tags, progress. */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { classify, files, InputError, ParseError, Pool, type Progress } from "../mod.ts";
import { collect, fixture, numberedCsv, runCrunch } from "./helpers.ts";

const identity = fixture("identity.ts");

/** A folder of `n` CSV files of `records` records each (ids numbered across files), and a .gz. */
async function folder(n: number, records: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "crunch-files-" });
  for (let f = 0; f < n; f++) {
    const lines = Array.from({ length: records }, (_, i) => `${f * records + i},file ${f}`);
    const text = `id,text\n${lines.join("\n")}\n`;
    const name = `${dir}/part-${String(f).padStart(3, "0")}.csv`;
    if (f === n - 1) {
      await Deno.writeFile(`${name}.gz`, zlib.gzipSync(new TextEncoder().encode(text)));
    } else await Deno.writeTextFile(name, text);
  }
  await Deno.writeTextFile(`${dir}/.hidden.csv`, "id,text\n-1,hidden\n");
  return dir;
}

Deno.test("a directory's files, sorted, one after another: ordered, tagged with file, index and line", async () => {
  const dir = await folder(5, 2000);
  let last: Progress | undefined;
  const rows = await collect(classify<{ id: string; text: string }>(identity, files(dir), {
    workers: 2,
    chunkBytes: 4096,
    ordered: true,
    tagged: true,
    onProgress: (p) => last = p,
  }));
  assert.equal(rows.length, 10_000);
  rows.forEach((r, k) => {
    assert.equal(Number(r.result.id), k);
    assert.equal(r.index, k % 2000); // within its file
    assert.equal(r.line, (k % 2000) + 2);
    assert.match(r.file!, new RegExp(`part-00${Math.floor(k / 2000)}\\.csv`));
  });
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.startsWith(".")) total += (await Deno.stat(`${dir}/${entry.name}`)).size;
  }
  assert.equal(last!.records, 10_000);
  assert.equal(last!.bytesTotal, total);
  assert.equal(last!.bytesRead, total);
});

Deno.test("globs and paths mix; each file once; a Pool runs many files with one init", async () => {
  const dir = await folder(4, 500);
  await using pool = await Pool.start(fixture("context.ts"), { workers: 2 });
  const out = await collect(
    pool.classify(files(`${dir}/part-00[01].csv`, `${dir}/*.csv`, dir)),
  ) as {
    inits: number;
  }[];
  assert.equal(out.length, 2000); // the glob and the folder repeat files: each is read once
  assert.ok(out.every((r) => r.inits === 1));
});

Deno.test("a header that differs is a ParseError naming the file, unless mixedHeaders", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a.csv`, "id,text\n1,x\n");
  await Deno.writeTextFile(`${dir}/b.csv`, "id,body\n2,y\n");
  await assert.rejects(
    () => collect(classify(identity, files(dir))),
    (e) =>
      e instanceof ParseError && e.file === `${dir}/b.csv` &&
      /differs from the first/.test(e.message),
  );
  const rows = await collect(classify(identity, files(dir), { mixedHeaders: true, ordered: true }));
  assert.deepEqual(rows, [{ id: "1", text: "x" }, { id: "2", body: "y" }]);
});

Deno.test("a missing file or an empty glob is an InputError before anything runs", async () => {
  await assert.rejects(
    () => collect(classify(identity, files("/no/such.csv"))),
    (e) => e instanceof InputError && /no such file/.test(e.message),
  );
  await assert.rejects(
    () => collect(classify(identity, files("/tmp/none-*.csv"))),
    (e) => e instanceof InputError && /no file matches/.test(e.message),
  );
});

Deno.test("errors name their file; skip goes on to the next file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a.csv`, numberedCsv(10));
  await Deno.writeTextFile(`${dir}/b.csv`, "id,text\n1,x,extra\n2,y\n");
  const errors: ParseError[] = [];
  const rows = await collect(classify(identity, files(dir), {
    onError: (e) => errors.push(e as ParseError),
  }));
  assert.equal(rows.length, 11);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].file, `${dir}/b.csv`);
  assert.equal(errors[0].line, 2);
});

Deno.test("the command: several inputs, a directory, --files-from; CSV header and JSON brackets once", async () => {
  const dir = await folder(3, 3);
  const csv = await runCrunch(["--ordered", "--tagged", "-t", "csv", identity.pathname, dir]);
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trim().split("\n");
  assert.equal(lines[0], "file,index,line,id,text");
  assert.equal(lines.length, 10);
  assert.equal(lines[4], `${dir}/part-001.csv,0,2,3,file 1`);
  const list = `${dir}/list.txt`;
  await Deno.writeTextFile(list, `${dir}/part-000.csv\n\n${dir}/part-002.csv.gz\n`);
  const json = await runCrunch([
    "--ordered",
    "-t",
    "json",
    "--files-from",
    list,
    identity.pathname,
  ]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).map((r: { id: string }) => r.id), [
    "0",
    "1",
    "2",
    "6",
    "7",
    "8",
  ]);
  assert.match(json.stderr, /6 records in, 6 results out/);
  const mixed = await runCrunch([identity.pathname, `${dir}/part-000.csv`, "-"]);
  assert.equal(mixed.code, 2);
});

Deno.test("a Pool is free again after a many-files run that failed before it started", async () => {
  await using pool = await Pool.start(identity, { workers: 1 });
  await assert.rejects(() => collect(pool.classify(files("/no/such/dir"))), InputError);
  assert.deepEqual(await collect(pool.classify([{ id: "1" }])), [{ id: "1" }]);
});
