/** Cuts: verifying where workers cut a file into ranges, in order, one report at a time. */
import assert from "node:assert/strict";
import { Cuts } from "../../lib/input/cuts.ts";

/** Three ranges of 100 bytes from byte 10 (the header's end). */
function three(): Cuts {
  const cuts = new Cuts();
  cuts.added(0, 10, 100, true);
  cuts.added(1, 100, 200, false);
  cuts.added(2, 200, 300, false);
  return cuts;
}

Deno.test("Cuts: ranges that start where the ones before end are verified in order, out of order reports wait", () => {
  const cuts = three();
  assert.ok(cuts.held(0) && cuts.held(1) && cuts.held(2));
  // Range 1 reports first: it waits for range 0.
  assert.deepEqual(cuts.report(1, { start: 105, end: 203, clean: true }), []);
  assert.equal(cuts.verified, 0);
  assert.deepEqual(cuts.report(0, { start: 10, end: 105, clean: true }), []);
  assert.equal(cuts.verified, 2);
  assert.equal(cuts.verifiedEnd, 203);
  assert.ok(!cuts.held(0) && !cuts.held(1) && cuts.held(2));
});

Deno.test("Cuts: a range that started inside the record before is run again from where it really starts", () => {
  const cuts = three();
  // Range 0's last record runs past its end (a quoted newline): it ends at 130, not 105.
  cuts.report(0, { start: 10, end: 130, clean: true });
  const actions = cuts.report(1, { start: 105, end: 203, clean: true });
  assert.deepEqual(actions, [{ kind: "redo", seq: 1, offset: 130 }]);
  assert.equal(cuts.endOf(1), 200);
  // The rerun reports from its true start and is verified.
  assert.deepEqual(cuts.report(1, { start: 130, end: 203, clean: true }), []);
  assert.equal(cuts.verified, 2);
});

Deno.test("Cuts: a range wholly inside the record before holds no record of its own", () => {
  const cuts = three();
  assert.deepEqual(cuts.report(0, { start: 10, end: 250, clean: true }), [
    { kind: "empty", seq: 1 },
  ]);
  assert.deepEqual(cuts.report(2, { start: 250, end: 300, clean: true }), []);
  assert.equal(cuts.verified, 3);
});

Deno.test("Cuts: an unclean cut falls back once; later reports and holds are over", () => {
  const cuts = three();
  assert.deepEqual(cuts.report(0, { start: 10, end: 100, clean: false }), [{ kind: "fallBack" }]);
  assert.equal(cuts.verifiedEnd, 10);
  assert.deepEqual(cuts.report(1, { start: 100, end: 200, clean: true }), []);
  assert.ok(!cuts.held(1));
});
