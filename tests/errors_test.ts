/** Every error crunch raises: its class, its fields, and that nothing is lost or duplicated. */
import assert from "node:assert/strict";
import {
  classify,
  InitError,
  ModuleError,
  ParseError,
  Pool,
  RecordError,
  WorkerCrashError,
} from "../mod.ts";
import { collect, fixture, numberedCsv, tempFile } from "./helpers.ts";

const policy = fixture("policy.ts");

Deno.test("ModuleError: a missing module, before any record is read", async () => {
  const e = await rejection(collect(classify("./no/such/module.ts", [1], { workers: 1 })));
  assert.ok(e instanceof ModuleError);
  assert.match(e.message, /classifier module file:\/\/.*\/no\/such\/module\.ts was not found/);
  await assert.rejects(Pool.start("./no/such/module.ts", { workers: 1 }), ModuleError);
});

Deno.test("ModuleError: no classify export names the exports found", async () => {
  const e = await rejection(collect(classify(fixture("no_classify.ts"), [1], { workers: 2 })));
  assert.ok(e instanceof ModuleError);
  assert.deepEqual(e.exports, ["helper", "init"]);
  assert.match(
    e.message,
    /no_classify\.ts has no classify function export \(exports found: helper, init\)/,
  );
});

Deno.test("ModuleError: a syntax error or a missing import says it could not be loaded", async () => {
  const broken = await tempFile("broken.ts", "export function classify( {\n");
  const e = await rejection(collect(classify(broken, [1], { workers: 1 })));
  assert.ok(e instanceof ModuleError);
  assert.match(e.message, /broken\.ts could not be loaded: .*(SyntaxError|Expected)/);
  const importer = await tempFile(
    "importer.ts",
    'import "./gone.ts";\nexport const classify = () => 1;\n',
  );
  const e2 = await rejection(collect(classify(importer, [1], { workers: 1 })));
  assert.ok(e2 instanceof ModuleError);
  assert.match(e2.message, /importer\.ts could not be loaded: .*gone\.ts/);
});

Deno.test("InitError repeats the original error and keeps its name and stack", async () => {
  const e = await rejection(Pool.start(fixture("init_throws.ts"), { workers: 2 }));
  assert.ok(e instanceof InitError);
  assert.match(
    e.message,
    /init\(\) of .*init_throws\.ts failed in worker \d: TypeError: the lexicon file is missing/,
  );
  assert.equal(e.cause.name, "TypeError");
  assert.match(e.cause.stack!, /init_throws\.ts:3/);
});

Deno.test("RecordError carries index, line, file, record and the original error", async () => {
  const path = await tempFile("data.csv", numberedCsv(1000));
  const e = await rejection(
    collect(classify(policy, path, { workers: 2, chunkBytes: 512, spec: { throwOn: ["700"] } })),
  );
  assert.ok(e instanceof RecordError);
  assert.equal(e.index, 700);
  assert.equal(e.line, 702);
  assert.equal(e.file, path);
  assert.deepEqual(e.record, { id: "700", text: "row 700" });
  assert.equal(e.cause.name, "RangeError");
  assert.equal(e.cause.message, "no rule for 700");
  assert.match(e.cause.stack!, /policy\.ts/);
  assert.match(
    e.message,
    /classify failed at .*data\.csv, line 702, record 700: RangeError: no rule for 700/,
  );
});

Deno.test("an async classify that rejects is a RecordError too", async () => {
  const e = await rejection(
    collect(classify(policy, [1, 2, 3], { workers: 1, spec: { async: true, throwOn: ["3"] } })),
  );
  assert.ok(e instanceof RecordError);
  assert.equal(e.index, 2);
  assert.equal(e.line, undefined);
});

Deno.test("ordered fail: the results before the failing record come first", async () => {
  const rows = Array.from({ length: 100 }, (_, i) => i);
  const seen: unknown[] = [];
  const e = await rejection((async () => {
    for await (
      const r of classify(policy, rows, {
        workers: 2,
        batchSize: 7,
        ordered: true,
        spec: { throwOn: ["40"] },
      })
    ) seen.push(r);
  })());
  assert.ok(e instanceof RecordError);
  assert.deepEqual(seen, rows.slice(0, 40).map((i) => ({ id: String(i) })));
});

Deno.test("batches(): the arrays before a failing record come first, then the error", async () => {
  const rows = Array.from({ length: 100 }, (_, i) => i);
  const seen: unknown[] = [];
  const e = await rejection((async () => {
    const run = classify(policy, rows, {
      workers: 2,
      batchSize: 7,
      ordered: true,
      spec: { throwOn: ["40"] },
    });
    for await (const batch of run.batches()) seen.push(...batch);
  })());
  assert.ok(e instanceof RecordError);
  assert.equal(e.index, 40);
  assert.deepEqual(seen, rows.slice(0, 40).map((i) => ({ id: String(i) })));
});

Deno.test("ParseError: wrong field count, with file and line", async () => {
  const path = await tempFile("bad.csv", 'id,text\n1,a\n2,"b\nc"\n3\n4,d\n');
  const e = await rejection(collect(classify(policy, path, { workers: 1 })));
  assert.ok(e instanceof ParseError);
  assert.equal(e.file, path);
  assert.equal(e.line, 5);
  assert.equal(e.index, 2);
  assert.match(e.message, /bad\.csv, line 5: expected 2 fields \(as in the header\), found 1/);
});

Deno.test("ParseError: an unclosed quote names the line where it opened", async () => {
  const path = await tempFile("open.csv", numberedCsv(50) + '50,"never closed\n51,x\n52,y\n');
  const e = await rejection(collect(classify(policy, path, { workers: 2, chunkBytes: 64 })));
  assert.ok(e instanceof ParseError);
  assert.equal(e.line, 52);
  assert.match(e.reason, /unclosed quote/);
});

Deno.test("ParseError: a runaway quote longer than maxRecordBytes stops the run", async () => {
  const path = await tempFile("runaway.csv", numberedCsv(10) + '10,"' + "x,y\n".repeat(5000));
  const e = await rejection(
    collect(
      classify(policy, path, {
        workers: 1,
        chunkBytes: 256,
        maxRecordBytes: 4096,
        onError: "skip",
      }),
    ),
  );
  assert.ok(e instanceof ParseError);
  assert.equal(e.line, 12);
  assert.match(e.reason, /longer than 4096 bytes \(maxRecordBytes\); is a quote left open\?/);
});

Deno.test("ParseError: an NDJSON line that is not JSON", async () => {
  const path = await tempFile("bad.ndjson", '{"id":1}\n{"id":2}\n\n{"id":3,}\n');
  const e = await rejection(collect(classify(policy, path, { workers: 1 })));
  assert.ok(e instanceof ParseError);
  assert.equal(e.line, 4);
  assert.equal(e.index, 2);
  assert.match(e.message, /bad\.ndjson, line 4: not valid JSON/);
});

Deno.test("a bad header: duplicated column names", async () => {
  const path = await tempFile("dup.csv", "id,id\n1,2\n");
  const e = await rejection(collect(classify(policy, path, { workers: 1 })));
  assert.ok(e instanceof ParseError);
  assert.match(e.message, /dup\.csv, line 1: the header names column "id" twice/);
});

Deno.test("skip and onError: every record yields exactly one result or one error", async () => {
  const count = 30000;
  let text = "id,text\n";
  const broken = new Set([17, 999, 5000, 29999]);
  for (let i = 0; i < count; i++) text += broken.has(i) ? `${i}\n` : `${i},t\n`;
  const path = await tempFile("mixed.csv", text);
  const throwOn = ["3", "4", "12345", "29998"];
  for (const ordered of [false, true]) {
    const errors: (RecordError | ParseError)[] = [];
    const results = await collect(
      classify(policy, path, {
        workers: 2,
        chunkBytes: 1000,
        ordered,
        spec: { throwOn, async: true },
        onError: (e) => errors.push(e),
      }),
    ) as { id: string }[];
    assert.equal(results.length + errors.length, count);
    const ids = [...results.map((r) => Number(r.id)), ...errors.map((e) => e.index!)];
    assert.equal(new Set(ids).size, count, "no record twice");
    assert.deepEqual(
      errors.filter((e) => e instanceof ParseError).map((e) => e.index).sort((a, b) => a! - b!),
      [...broken],
    );
    assert.deepEqual(
      errors.filter((e) => e instanceof RecordError).map((e) => String(e.index)).sort(),
      [...throwOn].sort(),
    );
    for (const e of errors) assert.equal(e.line, e.index! + 2);
  }
  const skipped = await collect(
    classify(policy, path, { workers: 2, onError: "skip", spec: { throwOn } }),
  );
  assert.equal(skipped.length, count - broken.size - throwOn.length);
});

Deno.test("an onError function that throws ends the run with its error", async () => {
  const e = await rejection(
    collect(classify(policy, [1, 2, 3], {
      workers: 1,
      spec: { throwOn: ["2"] },
      onError: () => {
        throw new Error("stop here");
      },
    })),
  );
  assert.equal((e as Error).message, "stop here");
});

Deno.test("a result that cannot be cloned is a RecordError for its record", async () => {
  const errors: RecordError[] = [];
  const out = await collect(
    classify(fixture("uncloneable.ts"), [{ id: "1" }, { id: "2" }, { id: "3" }], {
      workers: 1,
      ordered: true,
      onError: (e) => errors.push(e as RecordError),
    }),
  );
  assert.deepEqual(out, ["1", "3"]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].index, 1);
  assert.equal(errors[0].cause.name, "DataCloneError");
});

Deno.test("a row that cannot be sent to a worker is a RecordError for its row", async () => {
  const errors: RecordError[] = [];
  const rows = [{ id: 1 }, { id: 2, f: () => 0 }, { id: 3 }];
  const out = await collect(
    classify(fixture("identity.ts"), rows, {
      workers: 1,
      tagged: true,
      onError: (e) => errors.push(e as RecordError),
    }),
  );
  assert.deepEqual(out, [{ index: 0, result: { id: 1 } }, { index: 2, result: { id: 3 } }]);
  assert.equal(errors[0].index, 1);
  assert.match(errors[0].message, /cannot be sent to a worker/);
});

Deno.test("a worker that dies during init fails Pool.start", async () => {
  const e = await rejection(
    Pool.start(fixture("crash.ts"), { workers: 2, spec: { how: "exit", at: "init" } }),
  );
  assert.ok(e instanceof WorkerCrashError);
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}
