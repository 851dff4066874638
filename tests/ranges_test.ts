/**
 * Workers reading byte ranges of a file themselves (the `reader: "workers"`
 * default for paths): the same records, indices, lines and errors as the main
 * thread's exact cutting, including where a guessed cut falls inside a quoted
 * field and the run falls back.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ParseError, Pool, type Progress, RecordError } from "../mod.ts";
import { FileInput, RangeReader } from "../workers/range_reader.ts";
import type { RangeBody } from "../lib/wire/task.ts";
import { collect, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts");

/** A CSV document where about one field in three spans lines inside quotes. */
const multilineCsv = fc.array(
  fc.tuple(
    fc.string({ maxLength: 12 }).map((s) => s.replace(/[",\r\n]/g, "")),
    fc.array(fc.constantFrom("x", "\n", "y", ",", '""', " "), { maxLength: 10 }),
    fc.boolean(),
  ),
  { maxLength: 60 },
).map((rows) =>
  "id,text\n" +
  rows.map(([id, parts, quoted], i) =>
    quoted || parts.some((p) => p !== "x" && p !== "y" && p !== " ")
      ? `${i}${id},"${parts.join("")}"\n`
      : `${i}${id},${parts.join("")}\n`
  ).join("")
);

Deno.test("ranges give the same tagged results as the main thread's cutting, wrong cuts included", async () => {
  await using pool = await Pool.start(identity, { workers: 2 });
  const dir = await Deno.makeTempDir({ prefix: "crunch-ranges-" });
  let fellBack = 0;
  let rerun = 0;
  let stayed = 0;
  let n = 0;
  await fc.assert(
    fc.asyncProperty(multilineCsv, fc.integer({ min: 1, max: 120 }), async (text, chunkBytes) => {
      const path = `${dir}/doc${n++}.csv`;
      await Deno.writeTextFile(path, text);
      const main = await collect(
        pool.classify(path, { chunkBytes, tagged: true, ordered: true, reader: "main" }),
      );
      let last: Progress | undefined;
      const ranges = await collect(
        pool.classify(path, {
          chunkBytes,
          tagged: true,
          ordered: true,
          onProgress: (p) => last = p,
        }),
      );
      assert.deepEqual(ranges, main);
      if (last?.reader === "main") fellBack++;
      else if (last!.reruns > 0) rerun++;
      else stayed++;
    }),
    { numRuns: 200 },
  );
  // Both ways were taken: cuts that held, and cuts inside a quoted field that were run again
  // from the true start (a field too long to read on over falls back: a test of its own below).
  const ways = `fell back ${fellBack}, run again ${rerun}, stayed ${stayed}`;
  assert.ok(rerun > 10 && stayed > 10, ways);
});

Deno.test("ranges: a range cut inside a quoted field is run again; only a very long field falls back", async () => {
  await using pool = await Pool.start(identity, { workers: 2 });
  // Short quoted line breaks: every wrong cut is mended by running the next range again.
  let text = "id,text\n";
  for (let i = 0; i < 2000; i++) text += i % 7 ? `${i},plain ${i}\n` : `${i},"two\nlines ${i}"\n`;
  const short = await tempFile("short.csv", text);
  // One quoted field of 200 lines, far longer than four ranges: the run falls back at it.
  const long = await tempFile(
    "long.csv",
    text + `2000,"${Array.from({ length: 200 }, (_, k) => `line ${k}`).join("\n")}"\n` +
      "2001,after\n",
  );
  for (const [path, fallsBack] of [[short, false], [long, true]] as const) {
    const main = await collect(
      pool.classify(path, { chunkBytes: 64, tagged: true, ordered: true, reader: "main" }),
    );
    let last: Progress | undefined;
    const ranges = await collect(pool.classify(path, {
      chunkBytes: 64,
      tagged: true,
      ordered: true,
      onProgress: (p) => last = p,
    }));
    assert.deepEqual(ranges, main);
    assert.ok(last!.reruns > 10, `${last!.reruns} reruns`);
    assert.equal(last!.reader, fallsBack ? "main" : "workers");
  }
});

Deno.test("a file without quoted newlines is read by the workers to the end", async () => {
  const path = await tempFile("data.csv", numberedCsv(20000));
  await using pool = await Pool.start(identity, { workers: 2 });
  let last: Progress | undefined;
  const rows = await collect(
    pool.classify<{ id: string }>(path, {
      chunkBytes: 4096,
      tagged: true,
      onProgress: (p) => last = p,
    }),
  );
  assert.equal(last?.reader, "workers");
  assert.equal(last?.bytesRead, last?.bytesTotal);
  assert.equal(rows.length, 20000);
  for (const r of rows) {
    assert.equal(r.index, Number(r.result.id));
    assert.equal(r.line, r.index + 2);
  }
});

Deno.test("ranges: unordered results are all there, and errors name the right line", async () => {
  const lines = ["id,text"];
  for (let i = 0; i < 5000; i++) lines.push(i === 3210 ? `${i},a,b` : `${i},"row\n${i}"`);
  const path = await tempFile("bad.csv", lines.join("\n") + "\n");
  await using pool = await Pool.start(identity, { workers: 2 });
  const errors: unknown[] = [];
  const rows = await collect(
    pool.classify(path, { chunkBytes: 1000, onError: (e) => errors.push(e) }),
  );
  assert.equal(rows.length, 4999);
  assert.equal(errors.length, 1);
  const e = errors[0] as ParseError;
  assert.ok(e instanceof ParseError);
  assert.equal(e.index, 3210);
  assert.equal(e.line, 2 + 2 * 3210);
});

Deno.test("ranges: NDJSON and TSV files", async () => {
  const ndjson = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: i, t: "a\\nb" }));
  const nd = await tempFile("d.ndjson", ndjson.join("\n") + "\n");
  const tsv = await tempFile(
    "d.tsv",
    "id\ttext\n" + ndjson.map((_, i) => `${i}\tt${i}`).join("\n"),
  );
  await using pool = await Pool.start(identity, { workers: 2 });
  const a = await collect(pool.classify(nd, { chunkBytes: 500, ordered: true }));
  assert.deepEqual(a, ndjson.map((line) => JSON.parse(line)));
  const b = await collect(pool.classify(tsv, { chunkBytes: 300, ordered: true }));
  assert.deepEqual(b, ndjson.map((_, i) => ({ id: String(i), text: `t${i}` })));
});

Deno.test("ranges: a record longer than a range, and a runaway quote", async () => {
  const long = "y".repeat(50_000);
  const path = await tempFile("long.csv", `id,text\n1,a\n2,${long}\n3,b\n`);
  await using pool = await Pool.start(identity, { workers: 2 });
  const rows = await collect(pool.classify(path, { chunkBytes: 1000, ordered: true }));
  assert.deepEqual(rows, [{ id: "1", text: "a" }, { id: "2", text: long }, { id: "3", text: "b" }]);
  const runaway = await tempFile("runaway.csv", `id,text\n1,"never closed\n` + "z\n".repeat(5000));
  const error = await collect(pool.classify(runaway, { chunkBytes: 1000, maxRecordBytes: 4000 }))
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof ParseError, String(error));
  assert.equal(error.line, 2);
});

Deno.test("ranges: a crash inside a range is retried and the culprit isolated", async () => {
  const path = await tempFile("data.csv", numberedCsv(3000));
  await using pool = await Pool.start(fixture("crash.ts"), {
    workers: 2,
    spec: { at: "1234", how: "exit" },
  });
  const errors: unknown[] = [];
  const rows = await collect(
    pool.classify(path, { chunkBytes: 2048, onError: (e) => errors.push(e) }),
  );
  assert.equal(rows.length, 2999);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof RecordError);
  assert.equal((errors[0] as RecordError).index, 1234);
});

Deno.test("RangeReader: cuts after the first LF at or after offset - 1, up to the first LF at or after end - 1", async () => {
  const text = "h\nab\ncd\nef\n";
  const path = await tempFile("r.csv", text);
  const reader = new RangeReader();
  const at = async (start: number, end: number, exact = false) => {
    const body = rangeBody(path, start, end, exact);
    const r = await reader.read(1, body, (b) => new FileInput(b));
    return `${r.start}:${new TextDecoder().decode(r.bytes)}`;
  };
  assert.equal(await at(2, 5, true), "2:ab\n");
  assert.equal(await at(5, 6), "5:cd\n"); // byte 4 is an LF: "cd" starts at 5
  assert.equal(await at(6, 9), "8:ef\n");
  assert.equal(await at(6, 7), "7:"); // no record starts in [6, 7)
  // Every byte split gives each record once.
  for (let cut = 3; cut < text.length; cut++) {
    const [a, b] = [await at(2, cut, true), await at(cut, text.length)];
    const joined = a.slice(a.indexOf(":") + 1) + b.slice(b.indexOf(":") + 1);
    assert.equal(joined, "ab\ncd\nef\n", `cut at ${cut}`);
  }
  reader.close();
});

Deno.test("RangeReader: a file replaced between runs is read afresh, not through the old handle", async () => {
  const path = await tempFile("swap.csv", "h\nold\n");
  const reader = new RangeReader();
  const read = async (run: number) => {
    const r = await reader.read(run, rangeBody(path, 2, 6, true), (b) => new FileInput(b));
    return new TextDecoder().decode(r.bytes);
  };
  assert.equal(await read(1), "old\n");
  // Replaced, not rewritten in place: a handle kept open would still see the old file.
  await Deno.writeTextFile(`${path}.new`, "h\nnew\n");
  await Deno.rename(`${path}.new`, path);
  assert.equal(await read(1), "old\n"); // the same run keeps its handle
  assert.equal(await read(2), "new\n");
  reader.close();
});

Deno.test("ranges: a relative path keeps working after Deno.chdir() mid-run", async () => {
  const path = await tempFile("data.csv", numberedCsv(5000));
  const cwd = Deno.cwd();
  Deno.chdir(path.slice(0, path.lastIndexOf("/")));
  try {
    await using pool = await Pool.start(identity, { workers: 2 });
    const run = pool.classify("data.csv", { chunkBytes: 2048 });
    const first = await run.next(); // the file is open and its path resolved
    Deno.chdir(cwd);
    let n = first.done ? 0 : 1;
    for await (const _ of run) n++;
    assert.equal(n, 5000);
  } finally {
    Deno.chdir(cwd);
  }
});

/**
 * How many of this process's open file descriptors refer to `path`, as
 * Linux's /proc lists them (read by `ls`: Deno's own /proc access needs -A).
 */
async function openHandles(path: string): Promise<number> {
  const out = await new Deno.Command("ls", { args: ["-l", `/proc/${Deno.pid}/fd`] }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.endsWith(` -> ${path}`))
    .length;
}

Deno.test({
  name: "ranges: no worker keeps the input file open once a run's work is done",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const path = await Deno.realPath(await tempFile("data.csv", numberedCsv(20000)));
    await using pool = await Pool.start(identity, { workers: 2 });
    assert.equal((await collect(pool.classify(path, { chunkBytes: 4096 }))).length, 20000);
    let open = await openHandles(path);
    for (let wait = 0; open > 0 && wait < 100; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      open = await openHandles(path);
    }
    assert.equal(open, 0);
  },
});

/** A FIFO at a new temporary path named `name`, fed `content` by a `sh` writer. */
async function fifo(name: string, content: string): Promise<string> {
  const source = await tempFile("source", content);
  const path = `${source.slice(0, source.lastIndexOf("/"))}/${name}`;
  const made = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(made.success, "mkfifo");
  new Deno.Command("sh", { args: ["-c", `cat "${source}" > "${path}"`] }).spawn();
  return path;
}

Deno.test({
  name:
    "a FIFO path (as <(zcat f.gz) gives) is read whole by the main thread, crashes retried from copies",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const ordered = await Pool.start(identity, { workers: 2 });
    try {
      const rows = await collect(
        ordered.classify(await fifo("a.csv", numberedCsv(3000)), {
          chunkBytes: 2048,
          ordered: true,
        }),
      ) as { id: string }[];
      assert.deepEqual(rows.map((r) => Number(r.id)), [...Array(3000).keys()]);
    } finally {
      await ordered.close();
    }
    await using crashing = await Pool.start(fixture("crash.ts"), {
      workers: 2,
      spec: { at: "1234", how: "exit" },
    });
    const errors: unknown[] = [];
    const rows = await collect(
      crashing.classify(await fifo("b.csv", numberedCsv(3000)), {
        chunkBytes: 2048,
        onError: (e) => errors.push(e),
      }),
    );
    assert.equal(rows.length, 2999);
    assert.equal((errors[0] as RecordError).index, 1234);
    const cli = await runCrunch([identity.pathname, await fifo("c.csv", numberedCsv(3))]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(
      cli.stdout,
      '{"id":"0","text":"row 0"}\n{"id":"1","text":"row 1"}\n{"id":"2","text":"row 2"}\n',
    );
  },
});

/** A range body of the file at `path`. */
function rangeBody(path: string, offset: number, end: number, exact: boolean): RangeBody {
  return { kind: "range", path, offset, end, exact, maxRecordBytes: 100 };
}
