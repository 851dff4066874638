/**
 * --resume: a run killed at any moment goes on from its journal and ends
 * with the output an uninterrupted run writes; changed inputs, modules or
 * options, and truncated outputs, are refused.
 */
import assert from "node:assert/strict";
import { fixture, runCrunch, tempFile } from "./helpers.ts";

const CLI = new URL("../lib/cli/main.ts", import.meta.url).pathname;
const spin = fixture("spin.ts").pathname;

/** Records with quoted newlines, multibyte text and a few malformed ones. */
function data(n: number): string {
  let text = "id,text\n";
  for (let i = 0; i < n; i++) {
    if (i % 997 === 500) text += `${i},too,many\n`;
    else if (i % 50 === 0) text += `${i},"quoted, with\nnewline ${i}"\n`;
    else text += `${i},ligne n° ${i} — ok\n`;
  }
  return text;
}

/**
 * Starts the command and kills it with SIGKILL after `ms`; resolves with its
 * exit code and what it wrote to stderr, or null when it was killed.
 */
async function killedAfter(
  args: string[],
  ms: number,
): Promise<{ code: number; stderr: string } | null> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // it had ended
    }
  }, ms);
  const stderr = new Response(child.stderr).text();
  const status = await child.status;
  clearTimeout(timer);
  return status.signal ? null : { code: status.code, stderr: await stderr };
}

for (const to of ["csv", "json"] as const) {
  Deno.test(`SIGKILL at random moments, then --resume: the same ${to} output and errors`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "crunch-resume-" });
    const input = `${dir}/in.csv`;
    await Deno.writeTextFile(input, data(60_000));
    const common = ["-t", to, "--tagged", "--on-error", "skip", "-s", '{"us": 12}'];
    const want = await runCrunch([
      ...common,
      "--ordered",
      "-o",
      `${dir}/want`,
      "--errors",
      `${dir}/want.err`,
      spin,
      input,
    ]);
    assert.equal(want.code, 0, want.stderr);
    const args = [
      ...common,
      "--resume",
      "--chunk-bytes",
      "32768",
      "-o",
      `${dir}/out`,
      "--errors",
      `${dir}/out.err`,
      spin,
      input,
    ];
    let kills = 0;
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    while (kills < (to === "csv" ? 20 : 8)) {
      for (
        const path of [
          "out",
          "out.err",
          "out.crunch-journal",
          "out.crunch-partial",
          "out.err.crunch-partial",
        ]
      ) {
        await Deno.remove(`${dir}/${path}`).catch(() => {});
      }
      for (let attempt = 0;; attempt++) {
        // Early kills too (during start-up and the first chunk), then anywhere in the run.
        const ended = await killedAfter(
          args,
          attempt < 2 ? 150 + random() * 300 : 300 + random() * 1500,
        );
        if (ended === null) {
          kills++;
          continue;
        }
        assert.equal(ended.code, 0, ended.stderr);
        break;
      }
      assert.equal(await Deno.readTextFile(`${dir}/out`), await Deno.readTextFile(`${dir}/want`));
      assert.equal(
        await Deno.readTextFile(`${dir}/out.err`),
        await Deno.readTextFile(`${dir}/want.err`),
      );
    }
    // A complete run is not run again.
    const again = await runCrunch(args);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /nothing to resume: .*out is complete/);
  });
}

Deno.test("--resume refuses a changed spec, a changed input and a truncated partial output", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crunch-resume-" });
  const input = `${dir}/in.csv`;
  await Deno.writeTextFile(input, data(40_000));
  const args = (spec: string) => [
    "--resume",
    "--on-error",
    "skip",
    "--chunk-bytes",
    "16384",
    "-s",
    spec,
    "-o",
    `${dir}/out`,
    spin,
    input,
  ];
  // Run until a journal point exists, then stop it.
  for (let ms = 500;; ms += 250) {
    const code = await killedAfter(args('{"us": 80}'), ms);
    assert.equal(code, null, "the run should not have finished yet");
    const journal = await Deno.readTextFile(`${dir}/out.crunch-journal`).catch(() => "");
    assert.ok(!journal.includes('"kind":"complete"'), "the run should not have completed");
    if (journal.includes('"kind":"point"')) break;
  }
  const spec = await runCrunch(args('{"us": 81}'));
  assert.equal(spec.code, 1);
  assert.match(spec.stderr, /cannot resume: spec \(was "\w+", now "\w+"\) differs/);
  // Cut the partial output below what the journal says was made durable (bytes past the last
  // point may be lost in a crash: those are written again, not an error).
  const points = (await Deno.readTextFile(`${dir}/out.crunch-journal`)).trim().split("\n")
    .flatMap((l) => {
      try {
        return [JSON.parse(l)]; // a line torn by the kill is skipped, as crunch skips it
      } catch {
        return [];
      }
    }).filter((e) => e.kind === "point");
  const durable = points.at(-1).point.out as number;
  assert.ok(durable > 0);
  await Deno.truncate(`${dir}/out.crunch-partial`, Math.floor(durable / 2));
  const cut = await runCrunch(args('{"us": 80}'));
  assert.equal(cut.code, 1);
  assert.match(
    cut.stderr,
    /cannot resume: .*out\.crunch-partial holds \d+ bytes, but the journal says \d+ were written/,
  );
  await Deno.writeTextFile(input, "id,text\n1,changed\n", { append: true });
  const changed = await runCrunch(args('{"us": 80}'));
  assert.equal(changed.code, 1);
  assert.match(changed.stderr, /cannot resume: input \(was .*\) differs/);
});

Deno.test("--resume needs -o and one input file", async () => {
  const input = await tempFile("in.csv", data(10));
  const noOutput = await runCrunch(["--resume", spin, input]);
  assert.equal(noOutput.code, 2); // a usage error
  assert.match(noOutput.stderr, /--resume needs -o/);
  const stdin = await runCrunch(["--resume", "-o", `${input}.out`, spin, "-"], { stdin: data(10) });
  assert.equal(stdin.code, 2);
  assert.match(stdin.stderr, /--resume needs one input file: standard input/);
});

Deno.test("--retry-errors classifies only the listed records, with their own index and line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crunch-retry-" });
  const input = `${dir}/in.csv`;
  await Deno.writeTextFile(input, data(5000));
  const module = `${dir}/fix.ts`;
  await Deno.writeTextFile(
    module,
    `let fixed = false;
export function init(spec: { fixed?: boolean }) { fixed = spec?.fixed ?? false; }
export function classify(row: { id: string }) {
  if (Number(row.id) % 100 === 7 && !fixed) throw new Error("bug on " + row.id);
  return { id: row.id };
}
`,
  );
  const first = await runCrunch([
    "--errors",
    `${dir}/e.ndjson`,
    "-o",
    `${dir}/r.ndjson`,
    module,
    input,
  ]);
  assert.equal(first.code, 0, first.stderr);
  const listed = (await Deno.readTextFile(`${dir}/e.ndjson`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.ok(listed.length > 40);
  const again = await runCrunch([
    "--retry-errors",
    `${dir}/e.ndjson`,
    "--tagged",
    "--errors",
    `${dir}/e2.ndjson`,
    "-s",
    '{"fixed": true}',
    module,
    input,
  ]);
  assert.equal(again.code, 0, again.stderr);
  const fixed = again.stdout.trim().split("\n").map((l) => JSON.parse(l));
  // Every listed record that classify failed on, and only those, with the index and line the
  // errors file gave; the malformed ones are errors again, with theirs.
  const failedInClassify = listed.filter((e) => e.error.name !== "ParseError");
  const malformed = listed.filter((e) => e.error.name === "ParseError");
  assert.ok(failedInClassify.length > 40 && malformed.length > 3);
  assert.deepEqual(
    fixed.map((r) => [r.index, r.line]),
    failedInClassify.map((e) => [e.index, e.line]),
  );
  assert.ok(fixed.every((r) => Number(r.result.id) % 100 === 7));
  const second = (await Deno.readTextFile(`${dir}/e2.ndjson`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.deepEqual(
    second.map((e) => [e.index, e.line, e.text]),
    malformed.map((e) => [e.index, e.line, e.text]),
  );
  assert.match(
    again.stderr,
    new RegExp(
      `${listed.length} records listed in .* classified again: ${fixed.length} results out, ` +
        `${malformed.length} errors`,
    ),
  );
  const still = await runCrunch(["--retry-errors", `${dir}/e.ndjson`, module, input]);
  assert.equal(still.code, 1);
  assert.match(
    still.stderr,
    /record \d+ \(line \d+\) failed again: .* \(and \d+ more; --errors keeps them all\)/,
  );
});

/** The points a journal holds so far (0 while it does not exist yet). */
function pointsIn(journal: string): number {
  try {
    return (Deno.readTextFileSync(journal).match(/"point"/g) ?? []).length;
  } catch {
    return 0;
  }
}

/** Starts the command in the background. */
function spawnCrunch(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, ms = 60_000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error("the awaited state never came");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const exists = (path: string) => {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
};

Deno.test("--resume refuses a partial output changed in place since its journal's last point", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crunch-resume-" });
  const input = `${dir}/in.csv`;
  await Deno.writeTextFile(input, data(40_000));
  const args = [
    "--resume",
    "--on-error",
    "skip",
    "-s",
    '{"us": 30}',
    "-o",
    `${dir}/out.ndjson`,
    spin,
    input,
  ];
  const run = spawnCrunch(args);
  // Killed once the journal holds a point beyond the first records.
  await until(() => pointsIn(`${dir}/out.ndjson.crunch-journal`) >= 2);
  run.kill("SIGKILL");
  await run.status;
  const partial = `${dir}/out.ndjson.crunch-partial`;
  const bytes = await Deno.readFile(partial);
  bytes[10] = bytes[10] === 0x41 ? 0x42 : 0x41; // one byte, in place: the same size
  await Deno.writeFile(partial, bytes);
  const again = await runCrunch(args);
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    /cannot resume: the first \d+ bytes of .*crunch-partial are not those the run wrote/,
  );
});

Deno.test("two --resume runs of one output at once: the second is refused, naming the first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crunch-resume-" });
  const input = `${dir}/in.csv`;
  await Deno.writeTextFile(input, data(40_000));
  const args = [
    "--resume",
    "--on-error",
    "skip",
    "-s",
    '{"us": 50}',
    "-o",
    `${dir}/out.ndjson`,
    spin,
    input,
  ];
  const first = spawnCrunch(args);
  try {
    await until(() => exists(`${dir}/out.ndjson.crunch-lock`));
    const second = await runCrunch(args);
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(`another crunch --resume run \\(pid ${first.pid}, since .*\\) is writing`),
    );
  } finally {
    first.kill("SIGKILL");
    await first.status;
  }
  // A lock whose process is gone is taken over: the run completes.
  const third = await runCrunch(args);
  assert.equal(third.code, 0, third.stderr);
  assert.ok(!exists(`${dir}/out.ndjson.crunch-lock`));
});

Deno.test("--resume with slow tasks whose pieces come before they end: killed after a point, no record twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crunch-resume-" });
  const input = `${dir}/in.csv`;
  await Deno.writeTextFile(input, data(6000));
  // 40 records a task at 0.6 ms each: every task sends pieces (each 50 ms) before its last.
  const args = [
    "--resume",
    "--on-error",
    "skip",
    "--chunk-bytes",
    "1k",
    "-s",
    '{"us": 600}',
    "-o",
    `${dir}/out.ndjson`,
    spin,
    input,
  ];
  const run = spawnCrunch(args);
  await until(() => pointsIn(`${dir}/out.ndjson.crunch-journal`) >= 3);
  run.kill("SIGKILL");
  await run.status;
  const again = await runCrunch(args);
  assert.equal(again.code, 0, again.stderr);
  const ids = (await Deno.readTextFile(`${dir}/out.ndjson`)).trim().split("\n").map((l) =>
    Number(JSON.parse(l).id)
  );
  assert.equal(new Set(ids).size, ids.length, "a record written twice");
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  assert.equal(ids.length, 6000 - 6); // the malformed records are errors
});

Deno.test("a journal is born whole: its first line is written beside it and renamed into place", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crunch-resume-" });
  const { Journal, readJournal } = await import("../lib/cli/journal.ts");
  const path = `${dir}/out.crunch-journal`;
  // What a run killed mid-way through creating its journal leaves: the old one, or nothing.
  await Deno.writeTextFile(`${path}.new`, '{"kind":"st');
  assert.equal(await readJournal(path), undefined);
  const journal = await Journal.create(path, { input: "x" } as never);
  await assert.rejects(Deno.stat(`${path}.new`), Deno.errors.NotFound);
  assert.deepEqual((await readJournal(path))?.identity, { input: "x" });
  await journal.complete();
});
