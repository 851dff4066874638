/** OutputDocument: the CSV header, JSON brackets and tags around bytes the workers encoded. */
import assert from "node:assert/strict";
import { CrunchError } from "../../lib/errors.ts";
import { OutputDocument } from "../../lib/run/document.ts";

const text = (pieces: Uint8Array[] | CrunchError) =>
  (pieces as Uint8Array[]).map((p) => new TextDecoder().decode(p)).join("");
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("OutputDocument: CSV gets its header once, from the first result's columns", () => {
  const doc = new OutputDocument("csv", false);
  const told: string[][] = [];
  doc.listen((columns) => told.push(columns));
  const first = doc.write({ encoded: { count: 1, bytes: bytes("1,a\n"), columns: ["id", "x"] } }, {
    index: 0,
    line: 2,
  });
  assert.equal(text(first), "id,x\n1,a\n");
  assert.deepEqual(told, [["id", "x"]]);
  const second = doc.write({ encoded: { count: 1, bytes: bytes("2,b\n"), columns: ["id", "x"] } }, {
    index: 1,
    line: 3,
  });
  assert.equal(text(second), "2,b\n");
  const clash = doc.write({ encoded: { count: 1, bytes: bytes("3\n"), columns: ["id"] } }, {
    index: 7,
    line: 9,
  });
  assert.ok(clash instanceof CrunchError && /near record 7 have the keys id/.test(clash.message));
  assert.deepEqual(doc.trailer(), []);
});

Deno.test("OutputDocument: JSON brackets and separators, tagged results with index and line", () => {
  const doc = new OutputDocument("json", true);
  const piece = {
    encoded: { count: 2, texts: ['{"a":1}', '{"a":2}'] },
    offsets: [0, 3],
    lines: [1, 5],
  };
  assert.equal(
    text(doc.write(piece, { index: 10, line: 20 })),
    '[\n{"index":10,"line":20,"result":{"a":1}},\n{"index":13,"line":24,"result":{"a":2}}',
  );
  assert.equal(text(doc.trailer()), "\n]\n");
  const empty = new OutputDocument("json", false);
  assert.equal(text(empty.trailer()), "[]\n");
  const resumed = new OutputDocument("json", false);
  resumed.restore({ started: true });
  assert.equal(
    text(resumed.write({ encoded: { count: 1, bytes: bytes("3") } }, { index: 0, line: 1 })),
    ",\n3",
  );
});
