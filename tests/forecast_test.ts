/**
 * `--dry-run`: records sampled from many points of a file, each window read
 * from a verified record start (quoted newlines included), and a forecast
 * whose record count, output size and error rate are checked against the
 * real run over the same file.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { parseDelimited } from "../lib/formats/csv.ts";
import { sampleWindows } from "../lib/input/sample.ts";
import { awkwardCsv, fixture, runCrunch, tempFile } from "./helpers.ts";

Deno.test("sampled windows start at true record starts, across quoted newlines (exact and both ways)", async () => {
  const text = awkwardCsv(20_000);
  const bytes = new TextEncoder().encode(text);
  const columns = ["id", "text", "n"];
  const all = parseDelimited(text.slice(text.indexOf("\n") + 1), ",", columns).rows as {
    id: string;
  }[];
  const readAt = (at: number, into: Uint8Array) => {
    const piece = bytes.subarray(at, at + into.length);
    into.set(piece);
    return Promise.resolve(piece.length);
  };
  for (const exact of [true, false]) {
    const windows = await sampleWindows(
      readAt,
      bytes.length,
      text.indexOf("\n") + 1,
      {
        format: "csv",
        columns,
      },
      40,
      8192,
      exact,
    );
    assert.ok(windows.length >= 36, `${windows.length} of 40 windows verified`);
    let last = -1;
    for (const window of windows) {
      const rows = window.records.map((r) => ("row" in r ? r.row : r) as { id: string });
      const first = Number(rows[0].id);
      assert.ok(
        first > last,
        `windows in order, each new: ${first} after ${last} (${JSON.stringify(rows[0])})`,
      );
      // Every record of the window is the file's record at that place, in order.
      assert.deepEqual(rows, all.slice(first, first + rows.length));
      last = first;
    }
    assert.ok(last > 18_000, "the last window lies near the end of the file");
    // The first window starts where the records do: exact either way.
    assert.ok(windows.slice(1).every((w) => w.proof === (exact ? "exact" : "both ways")));
  }
});

Deno.test("--dry-run forecasts records, output and errors of the real run, and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  let text = awkwardCsv(30_000);
  // One malformed record in every 500.
  text = text.split("\n").map((line, k) => k > 0 && k % 500 === 0 ? `${line},extra` : line).join(
    "\n",
  );
  const path = `${dir}/data.csv`;
  await Deno.writeTextFile(path, text);
  const identity = fixture("identity.ts").pathname;
  const dry = await runCrunch(["--dry-run", identity, path, "-o", `${dir}/out.ndjson`]);
  assert.equal(dry.code, 0, dry.stderr);
  await assert.rejects(Deno.stat(`${dir}/out.ndjson`), Deno.errors.NotFound);
  const real = await runCrunch([identity, path, "--on-error", "skip", "-o", `${dir}/real.ndjson`]);
  assert.equal(real.code, 0, real.stderr);
  const records = Number(real.stderr.match(/([\d,]+) records in/)![1].replaceAll(",", ""));
  const errors = Number(real.stderr.match(/([\d,]+) errors/)![1].replaceAll(",", ""));
  const forecast = Number(dry.stderr.match(/about ([\d,]+) records;/)![1].replaceAll(",", ""));
  assert.ok(Math.abs(forecast - records) / records < 0.05, `${forecast} forecast, ${records} real`);
  const output = Number(dry.stderr.match(/output about ([\d.]+) MB/)![1]) * 1e6;
  const size = (await Deno.stat(`${dir}/real.ndjson`)).size;
  assert.ok(Math.abs(output - size) / size < 0.1, `${output} forecast, ${size} real`);
  const share = Number(dry.stderr.match(/errors: ([\d.]+)%/)![1]) / 100;
  assert.ok(
    share > 0 && Math.abs(share - errors / records) < 0.01,
    `${share} vs ${errors / records}`,
  );
  assert.match(dry.stderr, /each from a record start found by counting the quotes before it/);
  assert.match(dry.stderr, /error: .*data\.csv, byte \d+: expected 3 fields/);
});

Deno.test("--dry-run samples a gzip file from its head, and refuses standard input", async () => {
  const path = await tempFile("data.csv.gz", gzipSync(new TextEncoder().encode(awkwardCsv(5_000))));
  const dry = await runCrunch(["--dry-run", fixture("identity.ts").pathname, path]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /its head only \(gzip-compressed\)/);
  const stdin = await runCrunch(["--dry-run", fixture("identity.ts").pathname], {
    stdin: "a\n1\n",
  });
  assert.equal(stdin.code, 2);
  assert.match(stdin.stderr, /--dry-run samples a file or URL/);
});

Deno.test("property: every sampled window of random CSV (quoted newlines, bare quotes) matches the full parse where it lies", async () => {
  const fc = (await import("fast-check")).default;
  let verified = 0;
  let tried = 0;
  const field = fc.oneof(
    fc.stringMatching(/^[a-z ]{0,8}$/),
    // A quote inside an unquoted field is text: it opens nothing (as the run's cutter reads it).
    fc.stringMatching(/^[a-z]{1,4}"[a-z ]{0,4}$/),
    fc.array(fc.constantFrom("a", ",", "\n", '"', "é", "x y"), { maxLength: 12 }).map((parts) =>
      `"${parts.join("").replaceAll('"', '""')}"`
    ),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(field, field), { minLength: 50, maxLength: 400 }),
      fc.integer({ min: 2, max: 30 }),
      async (rows, points) => {
        const text = "id,a,b\n" + rows.map(([a, b], i) => `${i},${a},${b}\n`).join("");
        const bytes = new TextEncoder().encode(text);
        const columns = ["id", "a", "b"];
        const all = parseDelimited(text.slice(7), ",", columns).rows as { id: string }[];
        const readAt = (at: number, into: Uint8Array) => {
          const piece = bytes.subarray(at, at + into.length);
          into.set(piece);
          return Promise.resolve(piece.length);
        };
        const windows = await sampleWindows(
          readAt,
          bytes.length,
          7,
          {
            format: "csv",
            columns,
          },
          points,
          256,
        );
        verified += windows.length;
        const span = bytes.length - 7;
        tried += Math.min(points, Math.ceil(span / Math.max(256, Math.floor(span / points))));
        for (const window of windows) {
          const got = window.records.map((r) => "row" in r ? r.row : r) as { id: string }[];
          const first = Number(got[0]?.id);
          assert.ok(Number.isInteger(first), JSON.stringify(got[0]));
          assert.deepEqual(got, all.slice(first, first + got.length));
        }
      },
    ),
    { numRuns: 500 },
  );
  // Every point finds its record start (unless a record is longer than the window).
  assert.ok(verified > tried / 2, `${verified} of ${tried} points found a start`);
});
