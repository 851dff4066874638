/** Flight: the record ranges of a task and how a crash narrows them down to one record. */
import assert from "node:assert/strict";
import { Flight } from "../../lib/run/flight.ts";

const task = { body: { kind: "batch" as const, rows: [] }, transfer: [] };

Deno.test("Flight: a whole task is retried once, then halved until one record is the poison", () => {
  const flight = new Flight(0, task);
  flight.records = 8;
  assert.deepEqual(flight.crashed(), { kind: "retry" });
  assert.deepEqual(flight.crashed(), { kind: "retry", narrowed: true });
  assert.deepEqual(flight.ranges.map((r) => [r.from, r.to]), [[0, 4], [4, 8]]);
  assert.deepEqual(flight.crashed(), { kind: "retry", narrowed: true });
  assert.deepEqual(flight.crashed(), { kind: "retry", narrowed: true });
  assert.deepEqual(flight.range, { from: 0, to: 1, attempts: 0 });
  assert.deepEqual(flight.crashed(), { kind: "retry" }); // a single record gets a second chance
  assert.deepEqual(flight.crashed(), { kind: "poison", offset: 0 });
  assert.equal(flight.skipPoison(), false); // the other halves are still to run
  assert.deepEqual(flight.ranges.map((r) => [r.from, r.to]), [[1, 2], [2, 4], [4, 8]]);
});

Deno.test("Flight: progress moves a range's start, so a retry repeats no reported record", () => {
  const flight = new Flight(3, task);
  flight.advance(5);
  assert.equal(flight.range.from, 5);
  flight.records = 5;
  assert.equal(flight.finishRange(), true);
  assert.equal(flight.state, "waiting");
});
