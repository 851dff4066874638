/** Ledger: record indexes and lines over tasks that report out of order. */
import assert from "node:assert/strict";
import { Ledger } from "../../lib/run/ledger.ts";

Deno.test("Ledger: a task's base is known once every task before it reported", () => {
  const ledger = new Ledger(2);
  ledger.report(1, 10, 12);
  assert.equal(ledger.base(1), undefined);
  ledger.report(0, 5, 5);
  assert.deepEqual(ledger.base(0), { index: 0, line: 2 });
  assert.deepEqual(ledger.base(1), { index: 5, line: 7 });
  ledger.report(2, 1, 1);
  assert.deepEqual(ledger.base(2), { index: 15, line: 19 });
});

Deno.test("Ledger: a retracted size is reported again; a numbered one cannot be retracted", () => {
  const ledger = new Ledger(1, 100);
  ledger.report(1, 9, 9);
  ledger.retract(1);
  ledger.report(0, 3, 3);
  assert.equal(ledger.base(1), undefined);
  ledger.report(1, 4, 4);
  assert.deepEqual(ledger.base(1), { index: 103, line: 4 });
  assert.throws(() => ledger.retract(0), /already numbered/);
  ledger.forget(0);
  assert.equal(ledger.base(0), undefined);
});
