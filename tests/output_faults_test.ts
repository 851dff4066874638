/**
 * The command never replaces, truncates or leaves behind what the user did
 * not name as output, and ends cleanly on a signal: nothing half-written,
 * no temporary file left, no child process outliving it.
 */
import assert from "node:assert/strict";
import { CLI, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts").pathname;
const slow = fixture("slow.ts").pathname;

/** Files in `dir` whose name marks them as crunch's temporary files. */
async function temps(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.includes("crunch-tmp")) out.push(entry.name);
  }
  return out;
}

Deno.test("-o through a symbolic link writes its target and keeps the link", async () => {
  const input = await tempFile("in.csv", numberedCsv(50));
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/real.ndjson`, "old\n");
  await Deno.symlink(`${dir}/real.ndjson`, `${dir}/link.ndjson`);
  const r = await runCrunch(["--no-progress", "-o", `${dir}/link.ndjson`, identity, input]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await Deno.lstat(`${dir}/link.ndjson`)).isSymlink, "the link is still a link");
  assert.equal((await Deno.readTextFile(`${dir}/real.ndjson`)).trim().split("\n").length, 50);
  assert.deepEqual(await temps(dir), []);
});

Deno.test("-o keeps a target's mode (0600 stays 0600)", async () => {
  const input = await tempFile("in.csv", numberedCsv(5));
  const dir = await Deno.makeTempDir();
  const out = `${dir}/secret.ndjson`;
  await Deno.writeTextFile(out, "");
  await Deno.chmod(out, 0o600);
  const r = await runCrunch(["--no-progress", "-o", out, identity, input]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
});

Deno.test("-o to a FIFO writes into it instead of replacing it", async () => {
  const input = await tempFile("in.csv", numberedCsv(20));
  const dir = await Deno.makeTempDir();
  const fifo = `${dir}/pipe`;
  const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(mk.success);
  const reader = new Deno.Command("cat", { args: [fifo], stdout: "piped" }).output();
  const r = await runCrunch(["--no-progress", "-o", fifo, identity, input]);
  assert.equal(r.code, 0, r.stderr);
  const read = new TextDecoder().decode((await reader).stdout);
  assert.equal(read.trim().split("\n").length, 20);
  assert.ok((await Deno.stat(fifo)).isFifo, "still a FIFO");
});

Deno.test("-o to a device (/dev/null) writes to it; a full device names the path", async () => {
  const input = await tempFile("in.csv", numberedCsv(20));
  const ok = await runCrunch(["--no-progress", "-o", "/dev/null", identity, input]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok((await Deno.stat("/dev/null")).isCharDevice);
  const full = await runCrunch(["--no-progress", "-o", "/dev/full", identity, input]);
  assert.equal(full.code, 1);
  assert.match(full.stderr, /cannot write \/dev\/full: .*(space|No space)/i);
});

Deno.test("bad output paths are refused before the run, and nothing is left behind", async () => {
  const input = await tempFile("in.csv", numberedCsv(20));
  const dir = await Deno.makeTempDir();
  // What the flags ask that cannot be done is a usage error (2); a folder that is not there, 1.
  const cases: [string[], RegExp, number][] = [
    [["-o", dir], /cannot write results to .*: it is a directory/, 2],
    [
      ["--errors", `${dir}/missing/errors.ndjson`, "-o", `${dir}/out.ndjson`],
      /errors to .*the folder .* does not exist/,
      1,
    ],
    [["-o", input], /is the input file: writing there would destroy the input/, 2],
  ];
  for (const [args, message, code] of cases) {
    const r = await runCrunch(["--no-progress", ...args, identity, input]);
    assert.equal(r.code, code, `${args}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.deepEqual(await temps(dir), [], `${args}`);
    assert.equal(r.stdout, "");
  }
  await assert.rejects(Deno.stat(`${dir}/out.ndjson`), Deno.errors.NotFound);
  assert.equal((await Deno.readTextFile(input)).split("\n").length, 22, "the input is intact");
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGHUP", 129], ["SIGINT", 130]] as const) {
  Deno.test(`${signal} ends a run with exit ${code}, the target untouched and no temporary file`, async () => {
    const input = await tempFile("in.csv", numberedCsv(100_000));
    const dir = await Deno.makeTempDir();
    const out = `${dir}/out.ndjson`;
    await Deno.writeTextFile(out, "precious\n");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "--no-progress", "-s", '{"ms": 1}', "-o", out, slow, input],
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.kill(signal);
    const status = await child.output();
    assert.equal(status.code, code, new TextDecoder().decode(status.stderr));
    assert.equal(await Deno.readTextFile(out), "precious\n");
    assert.deepEqual(await temps(dir), []);
  });
}

Deno.test("killing a --sandbox run stops its relaunched child too: nothing is written later", async () => {
  const input = await tempFile("in.csv", numberedCsv(100_000));
  const dir = await Deno.makeTempDir();
  const out = `${dir}/out.ndjson`;
  // The test runner has the worker-options flag; a plain `deno run -A` does not, so the
  // command relaunches itself in a child with it.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLI,
      "--no-progress",
      "--sandbox",
      "-s",
      '{"ms": 1}',
      "-o",
      out,
      slow,
      input,
    ],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    cwd: dir,
  }).spawn();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  child.kill("SIGTERM");
  const status = await child.output();
  assert.equal(status.code, 143, new TextDecoder().decode(status.stderr));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  assert.deepEqual(await temps(dir), []);
});

Deno.test("an isolated poison record's line in the errors file carries the record", async () => {
  const input = await tempFile("in.csv", numberedCsv(300));
  const dir = await Deno.makeTempDir();
  const r = await runCrunch([
    "--no-progress",
    "--errors",
    `${dir}/errors.ndjson`,
    "-s",
    '{"how": "exit", "at": "77"}',
    fixture("crash.ts").pathname,
    input,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [line] = (await Deno.readTextFile(`${dir}/errors.ndjson`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.equal(line.index, 77);
  assert.deepEqual(line.record, { id: "77", text: "row 77" });
  assert.equal(line.error.name, "WorkerCrashError");
});
