/** Outbox: released results handed out one by one or in arrays, and the marks between them. */
import assert from "node:assert/strict";
import { Outbox } from "../../lib/run/outbox.ts";

Deno.test("Outbox: values one by one or the rest of an array, bytes counted down as arrays go", () => {
  const outbox = new Outbox();
  outbox.push([1, 2, 3], 30);
  outbox.push([], 99); // nothing: not queued
  outbox.push([4], 10);
  assert.equal(outbox.bytes, 40);
  assert.deepEqual(outbox.take(false), { value: 1 });
  assert.equal(outbox.bytes, 10);
  assert.deepEqual(outbox.take(true), { value: [2, 3] });
  assert.ok(!outbox.headReady && outbox.ready);
  assert.deepEqual(outbox.take(true), { value: [4] });
  assert.equal(outbox.take(false), undefined);
  assert.equal(outbox.bytes, 0);
});

Deno.test("Outbox: a mark is passed once every value before it is taken, and only once", () => {
  const outbox = new Outbox();
  outbox.push(["a", "b"]);
  outbox.mark("after b");
  outbox.push(["c"]);
  outbox.mark("after c");
  outbox.take(false);
  assert.equal(outbox.passed(), undefined);
  outbox.take(false);
  assert.equal(outbox.passed(), "after b");
  assert.equal(outbox.passed(), undefined);
  outbox.take(false);
  assert.equal(outbox.passed(), "after c");
  outbox.push(["d"]);
  outbox.clear();
  assert.equal(outbox.take(false), undefined);
});

Deno.test("Outbox: a mark placed where the consumer already stood is met before the next value is handled", () => {
  const outbox = new Outbox();
  outbox.push(["a"]);
  outbox.take(false);
  // The task's last piece had no results: its mark lands at the consumer's position.
  outbox.mark("after a");
  outbox.push(["b"]);
  outbox.take(false);
  // Asked before handling "b" (one value behind), it is "after a": the output holds "a" only.
  assert.equal(outbox.passed(1), "after a");
  assert.equal(outbox.passed(0), undefined);
});
