/**
 * Inputs that change, stall or are malformed never give silently wrong
 * data, never zero records in silence, and never hang.
 */
import assert from "node:assert/strict";
import { classify, InputError, ParseError } from "../mod.ts";
import { CLI, collect, deadline, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts");

for (const reader of ["workers", "main"] as const) {
  Deno.test(`a file truncated while it is read fails with an InputError (reader: ${reader})`, async () => {
    const text = numberedCsv(50_000);
    const path = await tempFile("shrinks.csv", text);
    const run = collect(classify(fixture("truncate.ts"), path, {
      workers: 2,
      reader,
      chunkBytes: 16 * 1024,
      spec: { path, size: Math.floor(text.length / 3), at: "2000" },
    }));
    await assert.rejects(
      deadline(run, 30_000),
      (e) =>
        e instanceof InputError && e.file === path &&
        /shrank from \d+ to \d+ bytes/.test(e.message),
    );
  });
}

Deno.test("a file that only grows while it is read gives the records it had at open", async () => {
  const path = await tempFile("grows.csv", numberedCsv(20_000));
  const results = await collect(classify(fixture("slow.ts"), path, {
    workers: 2,
    chunkBytes: 16 * 1024,
    spec: { ms: 0.01 },
    onProgress: (p) => {
      if (p.records > 1000 && p.records < 1500) {
        Deno.writeTextFileSync(path, "99999,appended\n", { append: true });
      }
    },
  }));
  assert.equal(results.length, 20_000);
});

Deno.test("lone CR line ends are a clear ParseError, not zero records", async () => {
  const path = await tempFile("mac.csv", "id,text\r1,a\r2,b\r");
  await assert.rejects(
    collect(classify(identity, path)),
    (e) => e instanceof ParseError && e.line === 1 && /lone CR/.test(e.message),
  );
});

Deno.test("a header longer than maxRecordBytes names the file and line", async () => {
  const path = await tempFile("wide.csv", '"' + "x".repeat(5000) + "\n1\n");
  await assert.rejects(
    collect(classify(identity, path, { maxRecordBytes: 1024, chunkBytes: 512 })),
    (e) =>
      e instanceof ParseError && e.file === path && e.line === 1 &&
      /header row is longer/.test(e.message),
  );
});

for (const reader of ["main", "workers"] as const) {
  Deno.test(`a first record longer than maxRecordBytes ends the run, never hangs (reader: ${reader})`, async () => {
    const path = await tempFile("long.ndjson", JSON.stringify("a".repeat(200_000)) + "\n{}\n");
    await assert.rejects(
      deadline(
        collect(classify(identity, path, { maxRecordBytes: 4096, chunkBytes: 1024, reader })),
        10_000,
      ),
      (e) => e instanceof ParseError && /longer than 4096 bytes/.test(e.message),
    );
  });
}

Deno.test("records from a slow producer on standard input come out before the input ends", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--no-progress", identity.pathname, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("id,text\n1,first\n2,second\n"));
  const reader = child.stdout.getReader();
  // The input stays open: the two records must arrive anyway.
  let got = "";
  const started = performance.now();
  while (got.split("\n").length < 3 && performance.now() - started < 10_000) {
    const { value, done } = await deadline(reader.read(), 10_000);
    if (done) break;
    got += new TextDecoder().decode(value);
  }
  assert.deepEqual(got.trim().split("\n").map((l) => JSON.parse(l).id).sort(), ["1", "2"]);
  await writer.write(new TextEncoder().encode("3,third\n"));
  await writer.close();
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    got += new TextDecoder().decode(value);
  }
  assert.equal(got.trim().split("\n").length, 3);
  assert.equal((await child.status).code, 0);
});

for (const reader of ["workers", "main"] as const) {
  for (const how of ["rename", "rewrite"] as const) {
    Deno.test(`a file ${how === "rename" ? "replaced by a copy" : "rewritten in place"} under the run: one version or an InputError, never a mix (reader: ${reader})`, async () => {
      const text = numberedCsv(60_000);
      const path = await tempFile("changes.csv", text);
      const run = collect(classify<string>(fixture("replace.ts"), path, {
        workers: 2,
        reader,
        chunkBytes: 16 * 1024,
        spec: { path, how, at: "3000" },
      }));
      // Either the run read one version whole (readers that opened the file before it was
      // replaced read on from it), or it fails with an InputError; never records of both.
      const outcome = await deadline(run, 30_000).then(
        (results) => results,
        (error) => error,
      );
      if (outcome instanceof Error) {
        assert.ok(outcome instanceof InputError, String(outcome));
        assert.equal(outcome.file, path);
        assert.match(outcome.message, /replaced by another file|rewritten|bytes changed|shrank/);
        return;
      }
      assert.equal(outcome.length, 60_000);
      assert.equal(new Set(outcome).size, 60_000);
      const texts = outcome as string[];
      assert.ok(texts.every((r) => r.endsWith(" row " + r.split(" ")[0])), "a mix of versions");
    });
  }
}

for (const reader of ["workers", "main"] as const) {
  Deno.test(`a file deleted under the run is read to its end from the handles open on it (reader: ${reader})`, async () => {
    const path = await tempFile("deleted.csv", numberedCsv(40_000));
    const ids = await deadline(
      collect(classify<string>(fixture("unlink.ts"), path, {
        workers: 2,
        reader,
        chunkBytes: 16 * 1024,
        spec: { path, at: "2000" },
      })),
      30_000,
    );
    assert.equal(ids.length, 40_000);
    assert.equal(new Set(ids).size, 40_000);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  });
}

Deno.test("NUL bytes are said to be what they are, and UTF-16 with a byte order mark is read as UTF-16", async () => {
  const identity = fixture("identity.ts");
  const nul = await tempFile("zeros.csv", new Uint8Array(5000));
  await assert.rejects(
    collect(classify(identity, nul)),
    (e) =>
      e instanceof ParseError &&
      /looks binary \(it holds NUL bytes\), not csv text/.test(e.message),
  );
  const utf16 = new Uint8Array([
    0xff,
    0xfe,
    ...[...new TextEncoder().encode("a,b\n1,2\n")].flatMap((b) => [b, 0]),
  ]);
  const path = await tempFile("excel.csv", utf16);
  assert.deepEqual(await collect(classify(identity, path)), [{ a: "1", b: "2" }]);
});

Deno.test("a symbolic link that loops in a directory input is an InputError naming it", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a.csv`, "id\n1\n");
  await Deno.symlink(`${dir}/loop.csv`, `${dir}/loop.csv`);
  const r = await runCrunch([fixture("identity.ts").pathname, dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /crunch: error: .*loop\.csv: a symbolic link that loops/);
});
