/** The crunch command, run as a real subprocess. */
import assert from "node:assert/strict";
import { CLI, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts").pathname;
const policy = fixture("policy.ts").pathname;

function assertNoStack(stderr: string) {
  assert.doesNotMatch(stderr, /^\s+at /m, `no stack trace in:\n${stderr}`);
}

const ndjson = (text: string) => text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));

Deno.test("--help and --version exit 0", async () => {
  const help = await runCrunch(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: crunch \[options\] <module> \[input\.\.\.\]/);
  assert.match(help.stdout, /--on-error <mode>/);
  const version = await runCrunch(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^crunch \d+\.\d+\.\d+/);
});

Deno.test("usage errors exit 2 with a message and the usage line, never a stack", async () => {
  const path = await tempFile("data.csv", numberedCsv(3));
  for (
    const [args, message] of [
      [["--bogus", identity, path], /unknown option --bogus/],
      [[], /missing <module>/],
      [["-s", "{not json", identity, path], /--spec is not valid JSON/],
      [["-s", "@/no/such/spec.json", identity, path], /cannot read the spec file/],
      [["-w", "0", identity, path], /--workers must be a positive integer/],
      [["-t", "xml", identity, path], /--to must be one of ndjson, csv, json/],
      [["--on-error", "maybe", identity, path], /--on-error must be one of fail, skip/],
      [["--reader", "disk", identity, path], /--reader must be one of workers, main/],
      [[identity, "data.txt"], /cannot tell the format of data\.txt/],
      [[identity, path, "-"], /- \(standard input\) cannot be one of several inputs/],
    ] as const
  ) {
    const r = await runCrunch([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /usage: crunch/);
    assertNoStack(r.stderr);
    assert.equal(r.stdout, "");
  }
});

Deno.test("a missing module or input exits 1 with a message, no stack", async () => {
  const path = await tempFile("data.csv", numberedCsv(3));
  const noModule = await runCrunch(["./no/such.ts", path]);
  assert.equal(noModule.code, 1);
  assert.match(noModule.stderr, /crunch: error: classifier module .*no\/such\.ts was not found/);
  assertNoStack(noModule.stderr);
  const noInput = await runCrunch([identity, "/no/such.csv"]);
  assert.equal(noInput.code, 1);
  assert.match(noInput.stderr, /cannot read input \/no\/such\.csv/);
  assertNoStack(noInput.stderr);
});

Deno.test("NDJSON to standard output; the summary goes to standard error", async () => {
  const path = await tempFile("data.csv", numberedCsv(5000));
  const r = await runCrunch(["-w", "2", "--chunk-bytes", "4k", identity, path]);
  assert.equal(r.code, 0);
  const rows = ndjson(r.stdout);
  assert.equal(rows.length, 5000);
  assert.deepEqual(rows.find((x) => x.id === "7"), { id: "7", text: "row 7" });
  assert.match(
    r.stderr,
    /^crunch: 5,000 records in, 5,000 results out, 0 errors, [\d.]+ s, [\d,]+ records\/s\n$/,
  );
});

Deno.test("--ordered, --tagged, and the spec as JSON or @file", async () => {
  const path = await tempFile("data.csv", numberedCsv(3000));
  const r = await runCrunch(["--ordered", "--tagged", "--chunk-bytes", "1k", policy, path]);
  const rows = ndjson(r.stdout);
  assert.deepEqual(rows[0], { index: 0, line: 2, result: { id: "0" } });
  assert.deepEqual(rows.map((x) => x.index), Array.from({ length: 3000 }, (_, i) => i));
  const specFile = await tempFile("spec.json", '{"skip": ["1", "2"]}');
  for (const spec of ['{"skip": ["1", "2"]}', `@${specFile}`]) {
    const s = await runCrunch(["--ordered", "-s", spec, policy, path]);
    assert.equal(ndjson(s.stdout).length, 2998);
  }
});

Deno.test("--reader main and --reader workers write the same records", async () => {
  const path = await tempFile("data.csv", numberedCsv(3000));
  const outputs = [];
  for (const reader of ["main", "workers"]) {
    const run = await runCrunch([
      "--ordered",
      "--chunk-bytes",
      "2000",
      "--reader",
      reader,
      identity,
      path,
    ]);
    assert.equal(run.code, 0, run.stderr);
    outputs.push(ndjson(run.stdout));
  }
  assert.equal(outputs[0].length, 3000);
  assert.deepEqual(outputs[0], outputs[1]);
});

Deno.test("standard input, as CSV by default or with --format", async () => {
  const csv = await runCrunch(["--ordered", identity], { stdin: "a,b\n1,2\n3,4\n" });
  assert.equal(csv.code, 0);
  assert.deepEqual(ndjson(csv.stdout), [{ a: "1", b: "2" }, { a: "3", b: "4" }]);
  const nd = await runCrunch(["--format", "ndjson", "--ordered", identity, "-"], {
    stdin: '{"x":1}\n[2]\n',
  });
  assert.deepEqual(ndjson(nd.stdout), [{ x: 1 }, [2]]);
});

Deno.test("-t csv and -t json, to a file with -o", async () => {
  const path = await tempFile("data.csv", 'id,text\n1,"a, b"\n2,"say ""hi"""\n');
  const dir = await Deno.makeTempDir();
  const csv = await runCrunch(["--ordered", "-t", "csv", "-o", `${dir}/out.csv`, identity, path]);
  assert.equal(csv.code, 0);
  assert.equal(csv.stdout, "");
  assert.equal(await Deno.readTextFile(`${dir}/out.csv`), 'id,text\n1,"a, b"\n2,"say ""hi"""\n');
  const json = await runCrunch(["--ordered", "--tagged", "-t", "json", identity, path]);
  assert.deepEqual(JSON.parse(json.stdout), [
    { index: 0, line: 2, result: { id: "1", text: "a, b" } },
    { index: 1, line: 3, result: { id: "2", text: 'say "hi"' } },
  ]);
  const tagged = await runCrunch(["--ordered", "--tagged", "-t", "csv", identity, path]);
  assert.equal(tagged.stdout, 'index,line,id,text\n0,2,1,"a, b"\n1,3,2,"say ""hi"""\n');
});

Deno.test("a failed run exits 1 naming file and line, and leaves no partial output file", async () => {
  const path = await tempFile("data.csv", numberedCsv(20000));
  const dir = await Deno.makeTempDir();
  const r = await runCrunch([
    "-s",
    '{"throwOn": ["15000"]}',
    "-o",
    `${dir}/out.ndjson`,
    policy,
    path,
  ]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /crunch: error: classify failed at .*data\.csv, line 15002, record 15000: RangeError: no rule for 15000/,
  );
  assertNoStack(r.stderr);
  assert.deepEqual([...Deno.readDirSync(dir)], [], "no output file, no temporary file");
  const debug = await runCrunch(["--debug", "-s", '{"throwOn": ["15000"]}', policy, path]);
  assert.match(debug.stderr, /policy\.ts/);
});

Deno.test("--on-error skip with --errors writes each failed record as NDJSON", async () => {
  const path = await tempFile("data.csv", "id,text\n0,a\n1,b\n2\n3,d\n");
  const dir = await Deno.makeTempDir();
  const r = await runCrunch([
    "-s",
    '{"throwOn": ["1"]}',
    "--errors",
    `${dir}/bad.ndjson`,
    "--ordered",
    policy,
    path,
  ]);
  assert.equal(r.code, 0);
  assert.deepEqual(ndjson(r.stdout), [{ id: "0" }, { id: "3" }]);
  const errors = ndjson(await Deno.readTextFile(`${dir}/bad.ndjson`));
  assert.equal(errors.length, 2);
  assert.deepEqual(errors[0].record, { id: "1", text: "b" });
  assert.equal(errors[0].index, 1);
  assert.equal(errors[0].line, 3);
  assert.equal(errors[0].error.name, "RangeError");
  assert.match(errors[0].error.stack, /policy\.ts/);
  assert.deepEqual(
    { index: errors[1].index, line: errors[1].line, name: errors[1].error.name },
    { index: 2, line: 4, name: "ParseError" },
  );
  assert.match(r.stderr, /4 records in, 2 results out, 2 errors/);
});

Deno.test("a record that kills its worker is isolated: exit 1 under fail, 0 under skip", async () => {
  const path = await tempFile("data.csv", numberedCsv(100));
  const args = ["-s", '{"how": "exit", "at": "50"}', fixture("crash.ts").pathname, path];
  const failed = await runCrunch(args);
  assert.equal(failed.code, 1);
  assert.match(
    failed.stderr,
    /crunch: error: classify failed at .*data\.csv, line 52, record 50: WorkerCrashError: the worker died while classifying this record \(worker \d died: the classifier called Deno\.exit\(3\)\)/,
  );
  assertNoStack(failed.stderr);
  const skipped = await runCrunch(["--on-error", "skip", ...args]);
  assert.equal(skipped.code, 0);
  assert.match(
    skipped.stderr,
    /100 records in, 99 results out, 1 error, \d+ retr(y|ies), \d+ respawns?, 1 isolated/,
  );
});

Deno.test("a closed pipe (crunch | head) ends quietly with 0", async () => {
  const path = await tempFile("data.csv", numberedCsv(200_000));
  const script =
    `deno run -A ${CLI} ${identity} ${path} | head -n 2; echo "status \${PIPESTATUS[0]}"`;
  const out = await new Deno.Command("bash", { args: ["-c", script], env: { NO_COLOR: "1" } })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.match(stdout, /status 0/);
  assert.equal(stdout.trim().split("\n").length, 3);
  assert.equal(stderr, "");
});

Deno.test("--progress draws on standard error only; results stay clean", async () => {
  const path = await tempFile("data.csv", numberedCsv(300_000));
  const r = await runCrunch(["--progress", "--chunk-bytes", "64k", identity, path]);
  assert.equal(r.code, 0, r.stderr);
  const rows = ndjson(r.stdout);
  assert.equal(rows.length, 300_000);
  assert.match(
    r.stderr,
    /crunch {2}\[[█░]+\] +\d+% +[\d.]+\/[\d.]+ MB {2}[\d,]+ records {2}[\d,]+ rec\/s {2}0 errors/,
  );
  const none = await runCrunch(["--no-progress", identity, path]);
  assert.doesNotMatch(none.stderr, /█/);
});
