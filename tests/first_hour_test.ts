/**
 * What a new user trips over in the first hour: their own folder, messages
 * that say what to do, output that never silently loses data.
 */
import assert from "node:assert/strict";
import { classify, InputError, type ParseError, type RecordError } from "../mod.ts";
import { progressLine } from "../lib/cli/progress_bar.ts";
import { collect, fixture, runCrunch, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts").pathname;
const config = new URL("../deno.json", import.meta.url).pathname;

Deno.test("deno task crunch resolves the user's paths against the folder it was run in", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.writeTextFile(`${folder}/spec.json`, '{"words": ["good"]}');
  await Deno.writeTextFile(`${folder}/data.csv`, "id,text\n1,good day\n2,bad day\n");
  await Deno.writeTextFile(
    `${folder}/mine.ts`,
    `let words = new Set<string>();
export function init(spec: { words: string[] }) { words = new Set(spec.words); }
export function classify(row: { id: string; text: string }) {
  console.log("a debug line from classify");
  return { id: row.id, hits: row.text.split(" ").filter((w) => words.has(w)).length };
}
`,
  );
  // A fresh environment, as in a user's shell: deno task keeps an INIT_CWD it inherits (this
  // suite runs under deno task too) and sets it only when there is none.
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const args = ["task", "-q", "--config", config, "crunch", "--ordered", "-s", "@spec.json"];
  args.push("-o", "out.ndjson", "mine.ts", "data.csv");
  const child = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: folder,
    clearEnv: true,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const r = { code: child.code, stderr: new TextDecoder().decode(child.stderr) };
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    await Deno.readTextFile(`${folder}/out.ndjson`),
    '{"id":"1","hits":1}\n{"id":"2","hits":0}\n',
  );
  // The plug-in's console.log goes to standard error, never into the results.
  assert.match(r.stderr, /a debug line from classify/);
});

Deno.test("the command's console.log from classify goes to standard error, not into stdout", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.writeTextFile(`${folder}/data.csv`, "id\n1\n2\n");
  await Deno.writeTextFile(
    `${folder}/chatty.ts`,
    `console.log("loading");\nexport function classify(row: { id: string }) { console.log("row", row.id); return { id: row.id }; }\n`,
  );
  const r = await runCrunch(["--ordered", `${folder}/chatty.ts`, `${folder}/data.csv`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '{"id":"1"}\n{"id":"2"}\n');
  assert.match(r.stderr, /loading[\s\S]*row 1/);
});

Deno.test("usage errors suggest what was meant", async () => {
  const csv = await tempFile("u.csv", "id\n1\n");
  const flag = await runCrunch(["--ordred", identity, csv]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option --ordred \(did you mean --ordered\?\)/);
  const spec = await runCrunch(["-s", "spec.json", identity, csv]);
  assert.equal(spec.code, 2);
  assert.match(spec.stderr, /to read the spec from the file spec.json, write @spec.json/);
  const both = await runCrunch(["--errors", "e.ndjson", "--on-error", "fail", identity, csv]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--errors with --on-error fail contradict each other/);
});

Deno.test("a module that does not fit the contract says what it exports and what to change", async () => {
  const csv = await tempFile("m.csv", "id\n1\n");
  const number = await tempFile("number.ts", "export const classify = 42;\n");
  const byDefault = await tempFile(
    "default.ts",
    "export default { classify(r: unknown) { return r; } };\n",
  );
  const broken = await tempFile("broken.ts", "export function classify( {\n");
  const a = await runCrunch([number, csv]);
  assert.match(a.stderr, /exports classify, but it is a number, not a function/);
  const b = await runCrunch([byDefault, csv]);
  assert.match(b.stderr, /only a default export: crunch calls named exports/);
  const c = await runCrunch([broken, csv]);
  assert.match(c.stderr, /could not be loaded: SyntaxError: /);
  assert.doesNotMatch(c.stderr, /TypeError: SyntaxError/);
  assert.ok(!c.stderr.includes("\x1b["), "no colour codes when standard error is a pipe");
});

Deno.test("a missing input is an InputError in the library too", async () => {
  await assert.rejects(
    () => collect(classify(identity, "/no/such/input.csv")),
    (e) => e instanceof InputError && e.message === "/no/such/input.csv: no such file",
  );
});

Deno.test("results JSON would change (Set, Map, NaN, typed arrays) are RecordErrors, not silent {}", async () => {
  const lossy = await tempFile(
    "lossy.ts",
    `export function classify(row: { id: string }) {
  switch (row.id) {
    case "1": return { id: row.id, tags: new Set(["a"]) };
    case "2": return { id: row.id, score: NaN };
    case "3": return { id: row.id, v: new Float32Array([1, 2]) };
    case "4": return { id: row.id, m: new Map([["a", 1]]) };
    case "5": return { id: row.id, when: new Date(0) };
    default: return { id: row.id };
  }
}
`,
  );
  const csv = await tempFile("lossy.csv", "id\n1\n2\n3\n4\n5\n6\n");
  const errors: RecordError[] = [];
  const bytes = await collect(classify(lossy, csv, {
    encode: "ndjson",
    ordered: true,
    onError: (e) => errors.push(e as RecordError),
  }));
  const text = bytes.map((b) => new TextDecoder().decode(b)).join("");
  assert.equal(text, '{"id":"5","when":"1970-01-01T00:00:00.000Z"}\n{"id":"6"}\n');
  assert.deepEqual(errors.map((e) => [e.index, e.cause.message.replace(/^.*: result/, "result")]), [
    [0, "result.tags is a Set, which JSON writes as {} (convert it with [...set])"],
    [1, "result.score is NaN, which JSON writes as null"],
    [
      2,
      "result.v is a Float32Array, which JSON writes as an object of indices (convert it with Array.from)",
    ],
    [3, "result.m is a Map, which JSON writes as {} (convert it with Object.fromEntries)"],
  ]);
  // Under --on-error fail the command stops at that record: nothing after it is written.
  const failing = await runCrunch(["--ordered", lossy, csv]);
  assert.equal(failing.code, 1);
  assert.equal(failing.stdout, "");
  assert.match(failing.stderr, /record 0: .*result.tags is a Set/);
});

Deno.test("tagged CSV of results with their own index key is a RecordError, not a duplicate header", async () => {
  const own = await tempFile(
    "own.ts",
    "export function classify(row: { id: string }) { return { index: row.id, v: 1 }; }\n",
  );
  const csv = await tempFile("own.csv", "id\n1\n2\n");
  const r = await runCrunch(["--tagged", "-t", "csv", "--on-error", "skip", own, csv]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /2 records in, 0 results out, 2 errors/);
});

Deno.test("a ParseError carries the record's raw text and byte offset, in the errors file too", async () => {
  const csv = await tempFile("bad.csv", "id,text\n1,a\n2,b,c\n4,ü\n5,é,x\n");
  const errors: ParseError[] = [];
  await collect(classify(identity, csv, { onError: (e) => errors.push(e as ParseError) }));
  assert.deepEqual(
    errors.map((e) => [e.index, e.line, e.byte, e.text]).sort(),
    [[1, 3, 12, "2,b,c"], [3, 5, 23, "5,é,x"]],
  );
  const file = `${await Deno.makeTempDir()}/errors.ndjson`;
  const r = await runCrunch(["--reader", "main", "--errors", file, identity, csv]);
  assert.equal(r.code, 0, r.stderr);
  const lines = (await Deno.readTextFile(file)).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.index, l.line, l.byte, l.text]), [
    [1, 3, 12, "2,b,c"],
    [3, 5, 23, "5,é,x"],
  ]);
  assert.match(r.stderr, /4 records in, 2 results out, 2 errors/);
});

Deno.test("the summary and messages use the singular for one", async () => {
  const csv = await tempFile("one.csv", "id\n1\n");
  const r = await runCrunch([identity, csv]);
  assert.match(r.stderr, /^crunch: 1 record in, 1 result out, 0 errors, /);
  const narrow = await tempFile("narrow.csv", "id\n1,2\n");
  const e = await runCrunch([identity, narrow]);
  assert.match(e.stderr, /expected 1 field \(as in the header\), found 2/);
});

Deno.test("the progress line fits the terminal's width", () => {
  const p = {
    records: 1_234_567,
    results: 1_234_567,
    errors: 3,
    bytesRead: 45e6,
    bytesTotal: 100e6,
    elapsedMs: 3000,
    retries: 0,
    respawns: 2,
    isolated: 0,
    recycled: 0,
    reruns: 0,
  };
  assert.ok(progressLine(p, Infinity, 4).length > 100);
  for (const width of [120, 100, 80, 60, 40, 20]) {
    const line = progressLine(p, width - 1, 4);
    assert.ok(line.length <= width - 1, `${width}: ${line}`);
    assert.match(line, /45%/); // the percentage stays longest
  }
  assert.match(progressLine(p, 79, 4), /errors.*ETA 0:04/);
});
