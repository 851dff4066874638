/** SharedTable, and prepare() sharing one structure with every worker. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { classify, Pool, PrepareError, SharedTable } from "../mod.ts";
import { collect, fixture, tempFile } from "./helpers.ts";

Deno.test("a table round-trips every key and value, unicode included", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.string({ unit: "grapheme", maxLength: 12 }),
          fc.oneof(fc.double({ noNaN: true }), fc.string({ unit: "grapheme" })),
        ),
      ),
      (pairs) => {
        const expected = new Map(pairs);
        const table = SharedTable.open(SharedTable.from(pairs).buffer);
        assert.equal(table.size, expected.size);
        for (const [key, value] of expected) assert.deepEqual(table.get(key), value);
        assert.deepEqual(new Map(table.entries()), expected);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("empty table, missing keys, getRange on a slice", () => {
  const empty = SharedTable.from([]);
  assert.equal(empty.size, 0);
  assert.equal(empty.get("x"), undefined);
  assert.deepEqual([...empty], []);
  const table = SharedTable.from([["köln", 1], ["日本", "jp"], ["😀", 3], ["", 4]]);
  assert.equal(table.get("koln"), undefined);
  assert.equal(table.has("日本"), true);
  assert.equal(table.get(""), 4);
  assert.equal(table.getRange("in köln today", 3, 7), 1);
  assert.equal(table.getRange("x😀y", 1, 3), 3);
  assert.throws(() => SharedTable.from([["k", {} as never]]), /values must be numbers or strings/);
  assert.throws(() => SharedTable.open(new SharedArrayBuffer(64)), /not a SharedTable buffer/);
});

Deno.test("fromFile reads key<TAB>value lines", async () => {
  const path = await tempFile("t.tsv", "good\t1.5\nbad\t-2\nname\tAda\n\n");
  const table = await SharedTable.fromFile(path);
  assert.deepEqual([...table], [["good", 1.5], ["bad", -2], ["name", "Ada"]]);
});

Deno.test("prepare runs once, in one worker; threads share its buffer, not a copy", async () => {
  const rows = Array.from({ length: 2000 }, (_, i) => i);
  const out = await collect(
    classify(fixture("shared.ts"), rows, { workers: 2, batchSize: 100 }),
  ) as {
    seen: number;
    prepare: number;
  }[];
  // Worker 0 wrote 1 into the shared buffer during init; every worker, including worker 1, sees it.
  assert.ok(out.every((r) => r.seen === 1));
  // One prepare call made the buffer every worker reads.
  assert.equal(new Set(out.map((r) => r.prepare)).size, 1);
});

Deno.test("under worker processes each process runs prepare and keeps its own copy", async () => {
  const rows = Array.from({ length: 2000 }, (_, i) => i);
  const out = await collect(
    classify(fixture("shared.ts"), rows, { workers: 2, batchSize: 100, isolation: "process" }),
  ) as { seen: number; prepare: number }[];
  assert.equal(out.length, rows.length);
  // Each process's module counted one prepare (its own), and its buffer is its own: worker 1
  // does not see worker 0's write.
  assert.ok(out.every((r) => r.prepare === 1), JSON.stringify(out.slice(0, 3)));
  assert.ok(out.every((r) => r.seen === 0 || r.seen === 1));
  // What threads could not be sent fails the same under processes.
  const e = await collect(
    classify(fixture("shared.ts"), [1], { spec: { mode: "function" }, isolation: "process" }),
  ).catch((e) => e);
  assert.ok(e instanceof PrepareError, String(e));
  assert.match(e.message, /prepare\(\) of .*shared\.ts returned a value that cannot be sent/);
});

Deno.test("a Pool runs prepare once for all its runs", async () => {
  await using pool = await Pool.start(fixture("shared.ts"), { workers: 2 });
  const calls = new Set<number>();
  for (let round = 0; round < 3; round++) {
    const out = await collect(pool.classify([1, 2, 3, 4, 5, 6])) as { prepare: number }[];
    for (const r of out) calls.add(r.prepare);
  }
  assert.equal(calls.size, 1);
});

Deno.test("PrepareError when prepare throws or returns what cannot be cloned", async () => {
  for (
    const [mode, message] of [
      ["throw", /prepare\(\) of .*shared\.ts failed: RangeError: no lexicon/],
      ["function", /prepare\(\) of .*shared\.ts returned a value that cannot be sent to workers/],
    ] as const
  ) {
    const e = await collect(classify(fixture("shared.ts"), [1], { spec: { mode } })).catch((e) =>
      e
    );
    assert.ok(e instanceof PrepareError, String(e));
    assert.match(e.message, message);
  }
});
