/** Other CSV dialects: delimiters other than the comma, files without a header row. */
import assert from "node:assert/strict";
import { classify, ParseError, type Tagged } from "../mod.ts";
import { collect, fixture, runCrunch, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts");

/** `n` records separated by `d`, every seventh with a quoted field holding `d` and a newline. */
function dialect(n: number, d: string, header = true): string {
  let text = header ? `id${d}text\n` : "";
  for (let i = 0; i < n; i++) {
    text += i % 7 === 0 ? `${i}${d}"a${d}b\nc"\n` : `${i}${d}row ${i}\n`;
  }
  return text;
}

for (const d of [";", "|", "\t"]) {
  Deno.test(`delimiter ${JSON.stringify(d)}: ranges and the main thread give the same records`, async () => {
    const path = await tempFile("data.csv", dialect(20_000, d));
    for (const reader of ["workers", "main"] as const) {
      const rows = await collect(classify(identity, path, {
        workers: 2,
        chunkBytes: 8192,
        ordered: true,
        delimiter: d,
        reader,
      })) as { id: string; text: string }[];
      assert.equal(rows.length, 20_000, reader);
      assert.deepEqual(rows[7], { id: "7", text: `a${d}b\nc` });
      assert.deepEqual(rows[8], { id: "8", text: "row 8" });
    }
  });
}

Deno.test("a one-column header holding ; or | is a ParseError that names the delimiter", async () => {
  const path = await tempFile("semi.csv", "id;text\n1;good\n");
  await assert.rejects(
    () => collect(classify(identity, path)),
    (e) => e instanceof ParseError && e.line === 1 && /pass --delimiter ';'/.test(e.message),
  );
  // Named explicitly, one column it is.
  const rows = await collect(classify(identity, path, { delimiter: "," }));
  assert.deepEqual(rows, [{ "id;text": "1;good" }]);
});

Deno.test("header: false keys records by c1, c2, ... or by the given columns; lines start at 1", async () => {
  const path = await tempFile("plain.csv", dialect(3000, "|", false));
  const tagged: Tagged<{ c1: string; c2: string }>[] = await collect(
    classify<{ c1: string; c2: string }>(identity, path, {
      workers: 2,
      chunkBytes: 4096,
      ordered: true,
      tagged: true,
      delimiter: "|",
      header: false,
    }),
  );
  assert.equal(tagged.length, 3000);
  assert.deepEqual(tagged[0], { index: 0, line: 1, result: { c1: "0", c2: "a|b\nc" } });
  assert.deepEqual(tagged[1], { index: 1, line: 3, result: { c1: "1", c2: "row 1" } });
  const named = await collect(classify(identity, path, {
    delimiter: "|",
    header: false,
    columns: ["id", "text"],
    ordered: true,
  })) as { id: string }[];
  assert.deepEqual(named[1], { id: "1", text: "row 1" });
});

Deno.test("dialect options are checked", () => {
  assert.throws(() => classify(identity, [], { delimiter: '"' }), /one ASCII character/);
  assert.throws(() => classify(identity, [], { delimiter: ";;" }), /one ASCII character/);
  assert.throws(() => classify(identity, [], { columns: ["a"] }), /add header: false/);
});

Deno.test("the command: -d, --no-header, --columns", async () => {
  const path = await tempFile("p.csv", "1|x\n2|y\n");
  const r = await runCrunch([
    "-d",
    "|",
    "--no-header",
    "--columns",
    "id,v",
    "--ordered",
    identity.pathname,
    path,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '{"id":"1","v":"x"}\n{"id":"2","v":"y"}\n');
  const tab = await tempFile("t.csv", "a\tb\n1\t2\n");
  const t = await runCrunch(["-d", "\\t", identity.pathname, tab]);
  assert.equal(t.stdout, '{"a":"1","b":"2"}\n');
  const bad = await runCrunch(["--columns", "a,b", identity.pathname, path]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /add --no-header/);
});
