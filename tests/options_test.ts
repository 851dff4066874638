/** Options that are misspelt, of the wrong type, or cannot be sent fail at once, clearly. */
import assert from "node:assert/strict";
import { classify, CrunchError, Pool } from "../mod.ts";
import { collect, fixture, numberedCsv, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts");
const rows = [{ id: "1" }];

Deno.test("an unknown option key is a TypeError naming it and the nearest valid key", () => {
  assert.throws(
    // @ts-expect-error: the misspelling under test
    () => classify(identity, rows, { worker: 2 }),
    (e) =>
      e instanceof TypeError && /unknown option worker \(did you mean workers\?\)/.test(e.message),
  );
  assert.throws(
    // @ts-expect-error: the misspelling under test
    () => classify(identity, rows, { ordred: true }),
    (e) => e instanceof TypeError && /did you mean ordered\?/.test(e.message),
  );
  assert.throws(
    // @ts-expect-error: nothing near it
    () => classify(identity, rows, { zzzzzz: 1 }),
    (e) =>
      e instanceof TypeError &&
      /unknown option zzzzzz; the options are spec, workers/.test(e.message),
  );
});

Deno.test("an option given to the wrong call says where it belongs", async () => {
  await assert.rejects(
    // @ts-expect-error: a run option given to the pool
    () => Pool.start(identity, { workers: 1, ordered: true }),
    (e) =>
      e instanceof TypeError &&
      /ordered is an option of a run: pass it to pool.classify/.test(e.message),
  );
  await using pool = await Pool.start(identity, { workers: 1 });
  assert.throws(
    // @ts-expect-error: a pool option given to a run
    () => pool.classify(rows, { workers: 2 }),
    (e) => e instanceof TypeError && /workers is an option of the pool/.test(e.message),
  );
  assert.deepEqual(await collect(pool.classify(rows)), rows); // the pool is still usable
});

Deno.test("a value of the wrong type says what type it got", () => {
  assert.throws(
    // @ts-expect-error: a string where a number goes
    () => classify(identity, rows, { workers: "2" }),
    (e) =>
      e instanceof TypeError &&
      e.message === 'option workers must be a positive integer, got a string ("2")',
  );
  assert.throws(
    () => classify(identity, rows, { workers: 0 }),
    (e) => e instanceof RangeError && /got number 0/.test(e.message),
  );
  assert.throws(
    // @ts-expect-error: a string where a boolean goes
    () => classify(identity, rows, { ordered: "yes" }),
    (e) => e instanceof TypeError && /ordered must be true or false, got a string/.test(e.message),
  );
});

Deno.test("a spec that cannot be sent is a CrunchError naming the path inside it", async () => {
  const spec = { lexicon: { path: "words.tsv" }, model: { predict: () => 1 } };
  assert.throws(
    () => classify(identity, rows, { spec }),
    (e) =>
      e instanceof CrunchError &&
      /spec\.model\.predict is a function/.test(e.message) &&
      /build the rest in init\(\)/.test(e.message),
  );
  await assert.rejects(
    () => Pool.start(identity, { workers: 1, spec: [1, new WeakMap()] }),
    (e) => e instanceof CrunchError && /spec\[1\] is a WeakMap/.test(e.message),
  );
});

Deno.test("a spec that structured clone would change is refused, naming the path", async () => {
  class Model {
    bias = 1;
    predict(x: number) {
      return x + this.bias;
    }
  }
  class Tokenizer extends Model {
    split(text: string) {
      return text.split(" ");
    }
  }
  const cases: [unknown, RegExp][] = [
    // The seed's own case: the worker would get { bias: 1 } and fail on every record.
    [{ model: new Model() }, /spec\.model is an instance of Model, whose predict a worker/],
    [
      { deep: [{ ok: 1 }, new Map([["t", new Tokenizer()]])] },
      /spec\.deep\[1\]\.get\("t"\) is an instance of Tokenizer, whose split, predict/,
    ],
    [{
      get now() {
        return 1;
      },
    }, /spec\.now is a getter/],
    [{ a: { [Symbol("tag")]: 1 } }, /spec\.a is an object with a symbol key \(Symbol\(tag\)\)/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      () => classify(identity, rows, { spec }),
      (e) => e instanceof CrunchError && message.test(e.message) && /init\(\)/.test(e.message),
      String(message),
    );
    // The same before any worker starts in every mode: a pool, and a run through Redis.
    await assert.rejects(
      () => Pool.start(identity, { workers: 1, spec }),
      (e) => e instanceof CrunchError && message.test(e.message),
    );
    assert.throws(
      () => classify(identity, rows, { spec, redis: "redis://127.0.0.1:1" }),
      (e) => e instanceof CrunchError && message.test(e.message),
    );
  }
  // What clones as what it is passes: dates, typed arrays, shared buffers, maps, null prototypes.
  const fine = {
    when: new Date(0),
    weights: new Float32Array(4),
    shared: new SharedArrayBuffer(8),
    index: new Map([["a", new Set([1])]]),
    bare: Object.assign(Object.create(null), { k: 1 }),
    error: new RangeError("kept"),
  };
  const out = await collect(classify(identity, rows, { spec: fine, workers: 1 }));
  assert.equal(out.length, rows.length);
});

Deno.test("no more workers start than the input has chunks for", async () => {
  const path = await tempFile("four.csv", numberedCsv(4));
  const out = await collect(classify(fixture("context.ts"), path, { workers: 16 })) as {
    workers: number;
  }[];
  assert.equal(out.length, 4);
  assert.ok(out.every((r) => r.workers === 1), JSON.stringify(out));
  // An array of six rows: a batch each (so that slow classifiers spread), six workers at most.
  const six = Array.from({ length: 6 }, (_, i) => ({ id: String(i) }));
  const fromArray = await collect(classify(fixture("context.ts"), six, { workers: 16 })) as {
    workers: number;
  }[];
  assert.ok(fromArray.every((r) => r.workers === 6), JSON.stringify(fromArray[0]));
});
