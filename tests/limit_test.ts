/**
 * `limit`: only the first records of an input are classified, and nothing
 * past them is read: a try of a classifier on a huge input. The records
 * taken are those Python's csv module reads first, quoted newlines included.
 */
import assert from "node:assert/strict";
import { classify, files, type Progress, type Tagged } from "../mod.ts";
import { collect, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts");

Deno.test("the first n records, in order or not, and the input read no further than them", async () => {
  const path = await tempFile(
    "data.csv",
    numberedCsv(200_000, (i) => i % 5 ? `row ${i}` : `"quoted\n""row"" ${i}, with a comma"`),
  );
  for (const ordered of [true, false]) {
    let last: Progress | undefined;
    const rows = await collect(
      classify(identity, path, {
        workers: 2,
        ordered,
        tagged: true,
        limit: 1234,
        chunkBytes: 64 << 10,
        onProgress: (p) => last = p,
      }),
    ) as Tagged<{ id: string; text: string }>[];
    const sorted = rows.sort((a, b) => a.index - b.index);
    assert.deepEqual(sorted.map((r) => r.index), Array.from({ length: 1234 }, (_, i) => i));
    assert.equal(sorted.at(-1)!.result.id, "1233");
    assert.equal(last!.records, 1234);
    assert.ok(last!.bytesRead < last!.bytesTotal! / 10, `read ${last!.bytesRead}`);
  }
  // The same rows Python's csv reads first.
  const script = "import csv, json, sys, itertools\n" +
    "with open(sys.argv[1], newline='') as f:\n" +
    "    print(json.dumps(list(itertools.islice(csv.DictReader(f), 1234))))\n";
  const out = await new Deno.Command("python3", { args: ["-c", script, path] }).output();
  const expected = JSON.parse(new TextDecoder().decode(out.stdout));
  const ours = await collect(classify(identity, path, { workers: 2, ordered: true, limit: 1234 }));
  assert.deepEqual(ours, expected);
});

Deno.test("a limit on rows, an async iterable, and many files", async () => {
  const rows = Array.from({ length: 100 }, (_, i) => ({ i }));
  assert.deepEqual(
    await collect(classify(identity, rows, { ordered: true, limit: 7 })),
    rows.slice(0, 7),
  );
  let made = 0;
  async function* endless() {
    for (;;) yield { i: made++ };
  }
  const taken = await collect(classify(identity, endless(), { ordered: true, limit: 5 }));
  assert.deepEqual(taken, [0, 1, 2, 3, 4].map((i) => ({ i })));
  const dir = await Deno.makeTempDir();
  for (const name of ["a", "b", "c"]) {
    await Deno.writeTextFile(`${dir}/${name}.csv`, numberedCsv(1000));
  }
  const tagged = await collect(
    classify(identity, files(dir), { ordered: true, tagged: true, limit: 1500 }),
  ) as Tagged[];
  assert.equal(tagged.length, 1500);
  assert.deepEqual(
    [...new Set(tagged.map((t) => t.file!.replace(/.*\//, "")))],
    ["a.csv", "b.csv"],
  );
  assert.equal(tagged.at(-1)!.index, 499);
});

Deno.test("the command: --limit, and not with --resume or --retry-errors", async () => {
  const path = await tempFile("data.csv", numberedCsv(10_000));
  const r = await runCrunch(["--limit", "3", "--ordered", identity.pathname, path]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n").map((l) => JSON.parse(l).id), ["0", "1", "2"]);
  assert.match(r.stderr, /crunch: 3 records in, 3 results out/);
  const resume = await runCrunch([
    "--limit",
    "3",
    "--resume",
    "-o",
    `${path}.out`,
    identity.pathname,
    path,
  ]);
  assert.equal(resume.code, 2);
  assert.match(resume.stderr, /--limit with --resume/);
});
