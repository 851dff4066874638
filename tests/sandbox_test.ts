/** Sandboxed plug-ins: workers with fewer Deno permissions than the main thread. */
import assert from "node:assert/strict";
import { classify, type Progress, type RecordError } from "../mod.ts";
import { CLI, collect, fixture, runCrunch, runDeno, tempFile } from "./helpers.ts";

const sandboxed = fixture("sandboxed.ts");

Deno.test("a sandboxed classifier is denied what it was not given, and the run goes on", async () => {
  const allowed = await tempFile("allowed.txt", "hello");
  const secret = await tempFile("secret.txt", "do not read");
  const target = `${await Deno.makeTempDir()}/out.txt`;
  const rows = [
    { what: "ok" },
    { what: "read", path: allowed },
    { what: "read", path: secret },
    { what: "write", path: target },
    { what: "net" },
    { what: "run" },
  ];
  const errors: RecordError[] = [];
  const results = await collect(classify(sandboxed, rows, {
    workers: 1,
    ordered: true,
    onError: (e) => errors.push(e as RecordError),
    permissions: { read: [allowed], write: false, net: false, run: false, env: false },
  }));
  assert.deepEqual(results, ["ok", 5]);
  assert.deepEqual(errors.map((e) => e.index), [2, 3, 4, 5]);
  assert.ok(errors.every((e) => e.cause.name === "NotCapable"));
  assert.match(errors[0].message, /Requires read access to ".*secret\.txt"/);
  assert.match(errors[1].message, /Requires write access to ".*out\.txt"/);
  assert.match(errors[2].message, /Requires net access to "127\.0\.0\.1:9"/);
  assert.match(errors[3].message, /Requires run access to "true"/);
  await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
});

Deno.test("workers that may not read the input file leave its reading to the main thread", async () => {
  const lines = Array.from({ length: 2000 }, () => JSON.stringify({ what: "ok" }));
  const data = await tempFile("rows.ndjson", lines.join("\n") + "\n");
  let last: Progress | undefined;
  const results = await collect(classify(sandboxed, data, {
    workers: 2,
    chunkBytes: 4096,
    permissions: { read: false, write: false, net: false, run: false, env: false },
    onProgress: (p) => last = p,
  }));
  assert.equal(results.length, 2000);
  assert.ok(results.every((r) => r === "ok"));
  assert.equal(last?.reader, "main");
});

Deno.test("without the worker-options feature the library says how to turn it on", async () => {
  const script = await tempFile(
    "script.ts",
    `import { classify } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
try {
  for await (const _ of classify(${
      JSON.stringify(sandboxed.href)
    }, [1], { permissions: "none" })) {}
} catch (error) {
  console.log(error.name, error.message);
}`,
  );
  const r = await runDeno(["run", "-A", script], { cwd: await Deno.makeTempDir() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /CrunchError the permissions option needs Deno's worker-options feature: run deno with --unstable-worker-options/,
  );
});

Deno.test("the command's --sandbox works without the user passing any Deno flag", async () => {
  const secret = await tempFile("secret.txt", "do not read");
  const data = await tempFile(
    "rows.ndjson",
    [{ what: "ok" }, { what: "read", path: secret }, { what: "net" }].map((r) => JSON.stringify(r))
      .join("\n"),
  );
  const dir = await Deno.makeTempDir();
  const r = await runCrunch([
    "--sandbox",
    "--ordered",
    "--errors",
    `${dir}/errors.ndjson`,
    sandboxed.pathname,
    data,
  ], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '"ok"\n');
  const errors = (await Deno.readTextFile(`${dir}/errors.ndjson`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.deepEqual(errors.map((e) => [e.index, e.error.name]), [[1, "NotCapable"], [
    2,
    "NotCapable",
  ]]);
  assert.match(errors[0].error.message, /Requires read access/);
  assert.match(errors[1].error.message, /Requires net access/);
});

/** The pids of the processes whose parent is `pid` (ps reads them). */
function children(pid: number): number[] {
  const out = new Deno.Command("ps", {
    args: ["-o", "pid=", "--ppid", String(pid)],
    stdout: "piped",
  })
    .outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => Number(l.trim())).filter((n) =>
    n > 0
  );
}

/** Whether process `pid` is there (ps says). */
function running(pid: number): boolean {
  return new Deno.Command("ps", { args: ["-p", String(pid)], stdout: "null" }).outputSync().success;
}

Deno.test("a --sandbox run whose command is SIGKILLed leaves no process and no file behind", async () => {
  const dir = await Deno.makeTempDir();
  const data = `${dir}/rows.ndjson`;
  await Deno.writeTextFile(data, Array.from({ length: 100_000 }, (_, i) => `${i}\n`).join(""));
  const parent = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLI,
      "--sandbox",
      "-s",
      '{"ms": 1}',
      "-o",
      `${dir}/out.ndjson`,
      fixture("slow.ts").pathname,
      data,
    ],
    cwd: dir,
    stdout: "null",
    stderr: "null",
  }).spawn();
  // The relaunched command with the worker-options feature: the parent's child.
  let child: number | undefined;
  for (let i = 0; i < 500 && child === undefined; i++) {
    child = children(parent.pid)[0];
    if (child === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(child !== undefined, "the sandboxed command was not relaunched");
  // Its temporary output shows the run has begun writing.
  for (
    let i = 0;
    i < 500 && ![...Deno.readDirSync(dir)].some((e) => e.name.includes("crunch-tmp"));
    i++
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  parent.kill("SIGKILL");
  await parent.status;
  let alive = true;
  for (let i = 0; i < 500 && alive; i++) {
    alive = running(child!);
    if (alive) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(!alive, "the relaunched command outlived its parent");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["rows.ndjson"]);
});
