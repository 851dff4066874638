/** Results go as JSON text only where that gives exactly what structured clone gives. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { jsonSafe, resultsAsJson } from "../lib/formats/json_safe.ts";

Deno.test("whatever jsonSafe accepts comes back from JSON as it would from a clone", () => {
  fc.assert(
    fc.property(
      fc.anything({
        withNullPrototype: true,
        withBigInt: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withTypedArray: true,
        withSparseArray: true,
        withObjectString: true,
      }),
      (value) => {
        if (!jsonSafe(value)) return;
        assert.deepStrictEqual(JSON.parse(JSON.stringify(value)), structuredClone(value));
      },
    ),
    { numRuns: 5000 },
  );
});

Deno.test("what JSON would change goes by clone", () => {
  for (
    const value of [
      undefined,
      NaN,
      Infinity,
      -0,
      10n,
      new Date(0),
      new Map(),
      { a: undefined },
      { a: NaN },
      [1, , 3],
      Object.assign([1], { x: 2 }),
      { toJSON: () => 1 },
      new Uint8Array(2),
      new (class Point {
        x = 1;
      })(),
    ]
  ) {
    assert.equal(jsonSafe(value), false, String(value));
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(jsonSafe(cyclic), false);
});

Deno.test("resultsAsJson: only for objects, and only when every result is safe", () => {
  assert.equal(resultsAsJson(["a", 1, true]), undefined); // primitives clone as cheaply
  assert.equal(resultsAsJson([{ id: "1", score: 2.5 }]), '[{"id":"1","score":2.5}]');
  assert.equal(resultsAsJson([{ id: "1" }, { score: NaN }]), undefined);
});
