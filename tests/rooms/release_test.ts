/** Release: results of tasks that finish out of order, handed on in order, numbered, or held. */
import assert from "node:assert/strict";
import { ParseError, RecordError } from "../../lib/errors.ts";
import { Ledger } from "../../lib/run/ledger.ts";
import { Outbox } from "../../lib/run/outbox.ts";
import { type Piece, Release, type ReleaseOptions } from "../../lib/run/release.ts";
import { Stats } from "../../lib/run/stats.ts";

function release(options: Partial<ReleaseOptions>, held = (_: number) => false) {
  const outbox = new Outbox();
  const stats = new Stats();
  const all: ReleaseOptions = { ordered: false, tagged: false, onError: "fail", ...options };
  const r = new Release(all, new Ledger(2), outbox, stats, undefined, held);
  const taken = () => {
    const out: unknown[] = [];
    for (let item = outbox.take(false); item; item = outbox.take(false)) out.push(item.value);
    return out;
  };
  return { r, outbox, stats, taken };
}

const piece = (seq: number, results: unknown[], extra: Partial<Piece> = {}): Piece => ({
  seq,
  records: results.length,
  results,
  failures: [],
  ...extra,
});

Deno.test("Release: ordered runs hand tasks on in sequence; unordered ones at once", () => {
  const ordered = release({ ordered: true });
  ordered.r.opened();
  ordered.r.opened();
  ordered.r.add(piece(1, ["b"]));
  ordered.r.complete(1, 1);
  assert.equal(ordered.r.flush(), undefined);
  assert.deepEqual(ordered.taken(), []);
  ordered.r.add(piece(0, ["a"]));
  ordered.r.complete(0, 1);
  ordered.r.flush();
  assert.deepEqual(ordered.taken(), ["a", "b"]);
  assert.equal(ordered.r.open, 0);
  assert.equal(ordered.stats.results, 2);

  const unordered = release({});
  unordered.r.opened();
  unordered.r.add(piece(5, ["x"]));
  unordered.r.flush();
  assert.deepEqual(unordered.taken(), ["x"]);
});

Deno.test("Release: tagged results wait for their task's base; held tasks wait for their verdict", () => {
  let hold = true;
  const { r, taken } = release({ tagged: true }, () => hold);
  r.opened();
  r.opened();
  r.add(piece(1, ["b"], { offsets: [0], lines: [1] }));
  r.complete(1, 1);
  r.flush();
  assert.deepEqual(taken(), []); // task 0 has not reported its size
  r.complete(0, 3);
  r.add({ seq: 0, records: 0, results: [], failures: [] });
  r.flush();
  assert.deepEqual(taken(), []); // held
  hold = false;
  r.flush();
  assert.deepEqual(taken(), [{ index: 0, line: 5, result: "b" }]);
});

Deno.test("Release: a failure ends the run under fail, is handed to a function otherwise, in place", () => {
  const failure = {
    kind: "record" as const,
    offset: 1,
    line: 2,
    record: { id: "x" },
    error: { name: "Error", message: "boom" },
  };
  const failing = release({ ordered: true });
  failing.r.opened();
  failing.r.add(piece(0, ["a"], { records: 2, failures: [failure] }));
  failing.r.complete(0, 2);
  const error = failing.r.flush();
  assert.ok(error instanceof RecordError);
  assert.equal(error.index, 1);
  assert.equal(error.line, 3);
  assert.deepEqual(failing.taken(), ["a"]); // results before it still go out

  const seen: unknown[] = [];
  const kept = release({ onError: (e) => seen.push(e) });
  kept.r.opened();
  kept.r.add(piece(0, [], { records: 2, failures: [failure] }));
  kept.r.complete(0, 2);
  assert.equal(kept.r.flush(), undefined);
  assert.equal(seen.length, 1);
  assert.equal(kept.stats.errors, 1);
});

Deno.test("Release: reset and drop forget what a task sent; stop ends the run where the input stops", () => {
  const { r, taken } = release({ ordered: true });
  r.opened();
  r.opened();
  r.add(piece(0, ["stale"]));
  r.reset(0);
  r.add(piece(0, ["fresh"]));
  r.complete(0, 1);
  r.add(piece(1, ["gone"]));
  r.drop(1);
  r.flush();
  assert.deepEqual(taken(), ["fresh"]);
  r.stop(2, (base) => new ParseError("too long", { line: base.line, index: base.index }));
  const error = r.flush();
  assert.ok(error instanceof ParseError);
  assert.equal(error.index, 1);
  assert.equal(error.line, 3);
});

Deno.test("Release: a resumable run marks where the next record starts after each task", () => {
  const { r, outbox } = release({
    ordered: true,
    checkpoints: { index: 0, line: 2, byte: 10 },
    onMark: () => "errors: 0",
  });
  r.opened();
  r.add(piece(0, ["a", "b"]));
  r.complete(0, 2, 40);
  r.flush();
  outbox.take(true);
  const mark = outbox.passed() as Record<string, unknown>;
  assert.deepEqual(
    [mark.index, mark.line, mark.byte, mark.records, mark.extra],
    [2, 4, 40, 2, "errors: 0"],
  );
});
