/**
 * The first hour, second round: what a new user still tripped over. Each
 * test fails on the code before its fix.
 */
import assert from "node:assert/strict";
import { classify, ModuleError } from "../mod.ts";
import { Eta } from "../lib/cli/progress_bar.ts";
import { emptyProgress } from "../lib/run/stats.ts";
import { CLI, collect, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";
import type { Progress } from "../mod.ts";

const identity = fixture("identity.ts").pathname;

Deno.test("-o - writes to standard output, not a file named -", async () => {
  const folder = await Deno.makeTempDir();
  const input = `${folder}/data.csv`;
  await Deno.writeTextFile(input, numberedCsv(3));
  const r = await runCrunch(["-o", "-", identity, input], { cwd: folder });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 3);
  await assert.rejects(Deno.stat(`${folder}/-`), Deno.errors.NotFound);
});

Deno.test("every usage error exits 2 with the usage line", async () => {
  const folder = await Deno.makeTempDir();
  const input = `${folder}/data.csv`;
  await Deno.writeTextFile(input, numberedCsv(3));
  for (
    const [args, message] of [
      [["--resume", identity, input], /--resume needs -o/],
      [["-o", input, identity, input], /is the input file/],
      [["-o", ".", identity, input], /it is a directory/],
      [["-o", "x.ndjson", "--errors", "x.ndjson", identity, input], /name the same file/],
      [["--resume", "-o", "r.ndjson", identity, input, input], /--resume needs one input file/],
    ] as const
  ) {
    const r = await runCrunch([...args], { cwd: folder });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /usage: crunch/);
  }
});

Deno.test("a killed run's temporary file is removed by the next run with the same -o", async () => {
  const folder = await Deno.makeTempDir();
  const input = `${folder}/data.csv`;
  await Deno.writeTextFile(input, numberedCsv(3));
  // A process that is gone, and one that still runs (another run writing the same file).
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  const running = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    const stale = `${folder}/.out.ndjson.${gone.pid}.crunch-tmp`;
    const live = `${folder}/.out.ndjson.${running.pid}.crunch-tmp`;
    await Deno.writeTextFile(stale, "x".repeat(1000));
    await Deno.writeTextFile(live, "y");
    const r = await runCrunch(["-o", "out.ndjson", identity, input], { cwd: folder });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `removed .*\\.out\\.ndjson\\.${gone.pid}\\.crunch-tmp .*process ${gone.pid} is gone`,
      ),
    );
    await assert.rejects(Deno.stat(stale), Deno.errors.NotFound);
    assert.equal(await Deno.readTextFile(live), "y"); // its process runs: not touched
    assert.equal((await Deno.readTextFile(`${folder}/out.ndjson`)).trim().split("\n").length, 3);
  } finally {
    running.kill("SIGKILL");
    await running.status;
  }
});

const progress = (over: Partial<Progress>): Progress => ({
  ...emptyProgress(),
  bytesTotal: 100e6,
  ...over,
});

Deno.test("the ETA comes from the run's own pace: not from start-up, not from an earlier run", () => {
  // Start-up: bytes read ahead while init builds its structure, no record done yet.
  const fresh = new Eta();
  assert.equal(fresh.seconds(progress({ bytesRead: 1e6, elapsedMs: 5000 })), undefined);
  assert.equal(
    fresh.seconds(progress({ records: 10, bytesRead: 1e6, elapsedMs: 5500 })),
    undefined,
  );
  // 2 MB a second from then on: 97 MB left is 48.5 s, whatever the 5.5 s of start-up.
  assert.equal(fresh.seconds(progress({ records: 99, bytesRead: 3e6, elapsedMs: 6500 })), 48.5);
  // A resumed run starts at 51%: its pace is its own, not 51% in its first second.
  const resumed = new Eta();
  resumed.seconds(progress({ records: 1, bytesRead: 51e6, elapsedMs: 300 }));
  assert.equal(resumed.seconds(progress({ records: 9, bytesRead: 52e6, elapsedMs: 2300 })), 96);
});

Deno.test("a plug-in's console output never lands on the progress line", async () => {
  const folder = await Deno.makeTempDir();
  const plugin = `${folder}/chatty.ts`;
  await Deno.writeTextFile(
    plugin,
    `export function classify(row: { id: string }) {
  if (Number(row.id) % 20000 === 0) console.log("worker saw", row.id);
  return row.id;
}
`,
  );
  const input = `${folder}/data.csv`;
  await Deno.writeTextFile(input, numberedCsv(200_000));
  for (const isolation of ["thread", "process"]) {
    const r = await runCrunch([
      "--progress",
      "--isolation",
      isolation,
      "--chunk-bytes",
      "64k",
      "-o",
      `${folder}/out.ndjson`,
      plugin,
      input,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const said = [...r.stderr.matchAll(/worker saw \d+/g)];
    assert.equal(said.length, 10, r.stderr);
    assert.match(r.stderr, /█|░/, "the bar was drawn");
    for (const { index } of said) {
      const before = r.stderr.slice(Math.max(0, index! - 4), index);
      assert.ok(
        index === 0 || before.endsWith("\n") || before.endsWith("\x1b[2K"),
        `${isolation}: "worker saw" after ${JSON.stringify(r.stderr.slice(index! - 60, index))}`,
      );
    }
    // The bar is cleared before the summary: it starts on a clean line.
    const summary = r.stderr.indexOf("crunch: 200,000 records in");
    assert.ok(summary > 0, r.stderr);
    assert.ok(/(\n|\[2K)$/.test(r.stderr.slice(0, summary)), "the summary starts on a clean line");
  }
});

Deno.test("no progress bar by default when the results go into a pipe on the same terminal", async () => {
  const folder = await Deno.makeTempDir();
  const input = `${folder}/data.csv`;
  await Deno.writeTextFile(input, numberedCsv(200_000));
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const run = `${quote(Deno.execPath())} run -A ${quote(CLI)} --chunk-bytes 64k ${quote(identity)}`;
  // Under `script`, standard error is a terminal; standard output goes into a pipe (| tail), or
  // to a file.
  const transcript = async (shell: string) => {
    const out = await new Deno.Command("script", {
      args: ["-qec", `stty cols 120; ${shell}`, "/dev/null"],
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    return new TextDecoder().decode(out.stdout);
  };
  const piped = await transcript(`${run} ${quote(input)} | tail -n 1`);
  assert.match(piped, /crunch: 200,000 records in/);
  assert.doesNotMatch(piped, /█|░|%/);
  const filed = await transcript(`${run} ${quote(input)} > ${quote(`${folder}/out.ndjson`)}`);
  assert.match(filed, /█|░|\d%/, "to a file, the bar is drawn");
});

Deno.test("an export one edit from the contract is named, with the name meant", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${folder}/intit.ts`,
    `export function intit(_spec: unknown) {}\nexport function classify(row: { id: string }) { return row.id; }\n`,
  );
  await Deno.writeTextFile(
    `${folder}/classfy.ts`,
    `export function classfy(row: { id: string }) { return row.id; }\n`,
  );
  const input = await tempFile("data.csv", numberedCsv(2));
  const warned = await runCrunch([`${folder}/intit.ts`, input]);
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(
    warned.stderr,
    /warning: .*intit\.ts exports intit, which crunch never calls: did you mean init\?/,
  );
  const failed = await runCrunch([`${folder}/classfy.ts`, input]);
  assert.equal(failed.code, 1);
  assert.match(
    failed.stderr,
    /has no classify function export: did you mean classify\? \(it exports classfy\)/,
  );
});

Deno.test("a relative module path that leads nowhere says what it was resolved against", async () => {
  const error = await collect(classify("./no_such_plugin.ts", [{ a: 1 }])).catch((e) => e);
  assert.ok(error instanceof ModuleError);
  assert.match(
    error.message,
    /the relative path \.\/no_such_plugin\.ts is resolved against the current folder/,
  );
  assert.match(error.message, /new URL\("\.\/no_such_plugin\.ts", import\.meta\.url\)/);
});

Deno.test("wording: one worker, no quote-cut reruns in the summary", async () => {
  const folder = await Deno.makeTempDir();
  const input = `${folder}/quoted.csv`;
  await Deno.writeTextFile(input, numberedCsv(20_000, (i) => `"line ${i}\nnext, ""q"""`));
  const r = await runCrunch(["-w", "2", "--chunk-bytes", "16k", identity, input]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /rerun/);
});

Deno.test("every file's header is checked, and every file opened, before the first record is classified", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${folder}/touch.ts`,
    `export function classify(row: { id: string }) {
  Deno.writeTextFileSync(${JSON.stringify(`${folder}/touched`)}, row.id, { append: true });
  return row.id;
}
`,
  );
  await Deno.writeTextFile(`${folder}/a.csv`, numberedCsv(50_000));
  await Deno.writeTextFile(`${folder}/b.csv`, numberedCsv(50_000));
  await Deno.writeTextFile(`${folder}/c.csv`, "id,body\n1,other columns\n");
  const r = await runCrunch(["-o", "out.ndjson", "touch.ts", "a.csv", "b.csv", "c.csv"], {
    cwd: folder,
  });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /c\.csv.*its header \(id, body\) differs from the first file's \(id, text\)/,
  );
  await assert.rejects(Deno.stat(`${folder}/touched`), Deno.errors.NotFound, "nothing classified");
  await assert.rejects(Deno.stat(`${folder}/out.ndjson`), Deno.errors.NotFound);
  // A file that cannot be read as what it says it is (a broken gzip) stops the run as early.
  await Deno.writeFile(`${folder}/d.csv.gz`, new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6]));
  const broken = await runCrunch(["touch.ts", "a.csv", "b.csv", "d.csv.gz"], { cwd: folder });
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /d\.csv\.gz/);
  await assert.rejects(Deno.stat(`${folder}/touched`), Deno.errors.NotFound, "nothing classified");
});

Deno.test("headers are checked from gzip files and past a long header row too", async () => {
  const folder = await Deno.makeTempDir();
  const gzip = async (path: string, text: string) => {
    const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
    await Deno.writeFile(path, new Uint8Array(await new Response(stream).arrayBuffer()));
  };
  await gzip(`${folder}/a.csv.gz`, numberedCsv(1000));
  await gzip(`${folder}/b.csv.gz`, "id,body\n1,x\n");
  const r = await runCrunch([identity, "a.csv.gz", "b.csv.gz"], { cwd: folder });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /b\.csv\.gz.*its header \(id, body\) differs/);
  // A header row longer than the bytes first looked at (300 KB) is read whole.
  const wide = Array.from({ length: 30_000 }, (_, k) => `column_${k}`);
  const row = wide.map((_, k) => k).join(",");
  await Deno.writeTextFile(`${folder}/w1.csv`, `${wide.join(",")}\n${row}\n`);
  await Deno.writeTextFile(`${folder}/w2.csv`, `${wide.join(",")}\n${row}\n`);
  await Deno.writeTextFile(`${folder}/w3.csv`, `${wide.join(",")},extra\n${row},1\n`);
  const same = await runCrunch([identity, "w1.csv", "w2.csv"], {
    cwd: folder,
  });
  assert.equal(same.code, 0, same.stderr);
  assert.equal(same.stdout.trim().split("\n").length, 2);
  const differs = await runCrunch([identity, "w1.csv", "w3.csv"], { cwd: folder });
  assert.equal(differs.code, 1);
  assert.match(differs.stderr, /w3\.csv.*differs from the first file's/);
});

Deno.test("deno task crunch never writes crunch's own lock file, whatever the plug-in imports", async () => {
  // A copy of the checkout, so that a failure cannot change this one's lock.
  const home = await Deno.makeTempDir();
  const root = new URL("..", import.meta.url).pathname;
  for (const name of ["deno.json", "deno.lock", "mod.ts"]) {
    await Deno.copyFile(`${root}${name}`, `${home}/${name}`);
  }
  const copy = await new Deno.Command("cp", {
    args: ["-r", `${root}lib`, `${root}workers`, home],
  }).output();
  assert.equal(copy.code, 0);
  const lock = await Deno.readTextFile(`${home}/deno.lock`);
  const folder = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${folder}/mine.ts`,
    `import { parse } from "npm:csv-parse@^6.2.0/sync";
export function classify(row: { text: string }) { return parse(row.text)[0].length; }
`,
  );
  await Deno.writeTextFile(`${folder}/data.csv`, 'id,text\n1,"a,b,c"\n');
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "--config", `${home}/deno.json`, "crunch", "mine.ts", "data.csv"],
    cwd: folder,
    clearEnv: true,
    env,
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(new TextDecoder().decode(out.stdout), "3\n");
  assert.equal(await Deno.readTextFile(`${home}/deno.lock`), lock, "crunch's lock is unchanged");
});

Deno.test("--retry-errors writes tagged results; --merge puts them among the first run's", async () => {
  const folder = await Deno.makeTempDir();
  const input = `${folder}/in.csv`;
  await Deno.writeTextFile(
    input,
    numberedCsv(20_000, (i) => i % 9 === 0 ? `"q ${i}\nnext"` : `r ${i}`),
  );
  await Deno.writeTextFile(
    `${folder}/fix.ts`,
    `let fixed = false;
export function init(spec: { fixed?: boolean }) { fixed = spec?.fixed ?? false; }
export function classify(row: { id: string; text: string }) {
  if (Number(row.id) % 97 === 5 && !fixed) throw new Error("bug on " + row.id);
  return Number(row.id) % 11 === 0 ? undefined : { id: row.id, n: row.text.length };
}
`,
  );
  const args = ["-w", "2", "--chunk-bytes", "16k"];
  const first = await runCrunch([
    ...args,
    "--tagged",
    "--ordered",
    "--errors",
    "e.ndjson",
    "-o",
    "out.ndjson",
    "fix.ts",
    "in.csv",
  ], { cwd: folder });
  assert.equal(first.code, 0, first.stderr);
  // Retried alone: each result says which record it is, without --tagged.
  const alone = await runCrunch([
    ...args,
    "--retry-errors",
    "e.ndjson",
    "-s",
    '{"fixed":true}',
    "fix.ts",
    "in.csv",
  ], {
    cwd: folder,
  });
  assert.equal(alone.code, 0, alone.stderr);
  assert.ok(alone.stdout.trim().split("\n").every((l) => Number.isInteger(JSON.parse(l).index)));
  // Merged into the first output, in place: what one uninterrupted run writes.
  const merged = await runCrunch([
    ...args,
    "--retry-errors",
    "e.ndjson",
    "--merge",
    "out.ndjson",
    "-o",
    "out.ndjson",
    "-s",
    '{"fixed":true}',
    "fix.ts",
    "in.csv",
  ], { cwd: folder });
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(
    merged.stderr,
    /merged: [\d,]+ results of out\.ndjson and \d+ retried results in out\.ndjson/,
  );
  const whole = await runCrunch([
    ...args,
    "--tagged",
    "--ordered",
    "-s",
    '{"fixed":true}',
    "fix.ts",
    "in.csv",
  ], {
    cwd: folder,
  });
  assert.equal(await Deno.readTextFile(`${folder}/out.ndjson`), whole.stdout);
  // A first output that is not tagged, or not in input order, cannot be merged: it says why.
  const plain = await runCrunch([
    ...args,
    "--errors",
    "e2.ndjson",
    "-o",
    "plain.ndjson",
    "fix.ts",
    "in.csv",
  ], {
    cwd: folder,
  });
  assert.equal(plain.code, 0);
  const refused = await runCrunch([
    "--retry-errors",
    "e2.ndjson",
    "--merge",
    "plain.ndjson",
    "-o",
    "m.ndjson",
    "-s",
    '{"fixed":true}',
    "fix.ts",
    "in.csv",
  ], { cwd: folder });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /plain\.ndjson, line 1: no record index: --merge needs .* --tagged/);
  await assert.rejects(Deno.stat(`${folder}/m.ndjson`), Deno.errors.NotFound);
});
