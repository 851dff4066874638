/**
 * Output written by the workers (`outputDir`, `--output-dir`): one part a
 * task, committed once each and named in input order with `ordered`, the
 * manifest, every format (Parquet read back by DuckDB) and compression,
 * tasks run again after crashes, a worker killed while it writes parts,
 * and what is refused.
 */
import assert from "node:assert/strict";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { classify, CrunchError, type OutputPart } from "../mod.ts";
import { awkwardCsv, collect, deadline, fixture, runCrunch, tempFile } from "./helpers.ts";
import { duckdb } from "./duckdb.ts";

const identity = fixture("identity.ts");
const OPTIONS = { workers: 2, chunkBytes: 4096, ordered: true } as const;

/** The bytes of `paths`, one after another. */
async function joined(paths: string[]): Promise<Uint8Array> {
  const pieces = await Promise.all(paths.map((p) => Deno.readFile(p)));
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const piece of pieces) out.set(piece, at), at += piece.length;
  return out;
}

/** The folder's file names, sorted. */
async function names(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) found.push(entry.name);
  return found.sort();
}

/** The document `-o` would hold: the same run's results encoded, joined. */
async function document(input: string, encode: "ndjson" | "csv" | "json"): Promise<string> {
  const pieces = await collect(classify(identity, input, { ...OPTIONS, encode }));
  return pieces.map((p) => new TextDecoder().decode(p)).join("");
}

Deno.test("NDJSON parts, one a task, in input order, hold what -o would; the manifest lists them", async () => {
  const input = await tempFile("awkward.csv", awkwardCsv(3_000));
  const dir = `${await Deno.makeTempDir()}/out`; // made by the run
  const parts = await collect(
    classify(identity, input, { ...OPTIONS, outputDir: dir }),
  ) as OutputPart[];
  assert.ok(parts.length > 10, `${parts.length} parts`);
  assert.deepEqual(
    parts.map((p) => p.name),
    parts.map((_, k) => `part-${String(k).padStart(6, "0")}.ndjson`),
  );
  assert.deepEqual(await names(dir), ["_SUCCESS", ...parts.map((p) => p.name)]);
  const text = new TextDecoder().decode(await joined(parts.map((p) => p.path)));
  assert.equal(text, await document(input, "ndjson"));
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/_SUCCESS`));
  assert.equal(manifest.results, 3_000);
  assert.equal(manifest.records, 3_000);
  for (const [k, part] of manifest.parts.entries()) {
    assert.equal(part.name, parts[k].name);
    assert.equal(part.bytes, (await Deno.stat(`${dir}/${part.name}`)).size);
    assert.equal(
      part.results,
      (await Deno.readTextFile(`${dir}/${part.name}`)).split("\n").length - 1,
    );
  }
  await assert.rejects(
    collect(classify(identity, input, { ...OPTIONS, outputDir: dir })),
    (e: unknown) =>
      e instanceof CrunchError &&
      /holds (_SUCCESS|part-\d+\.ndjson) of an earlier run/.test(e.message),
  );
});

Deno.test("CSV and JSON parts are whole documents; gzip and zstd parts; Parquet parts read by DuckDB", async () => {
  const input = await tempFile("awkward.csv", awkwardCsv(2_000));
  const root = await Deno.makeTempDir();
  const csv = await collect(classify(identity, input, {
    ...OPTIONS,
    outputDir: `${root}/csv`,
    encode: "csv",
  })) as OutputPart[];
  const rows = await duckdb(
    `SELECT count(*) AS n, sum(n::BIGINT) AS s FROM read_csv('${root}/csv/part-*.csv', ` +
      `header = true, all_varchar = true)`,
  );
  assert.deepEqual(rows, [{ n: "2000", s: String(3 * 1999 * 2000 / 2) }]);
  const header = (await Deno.readTextFile(csv[1].path)).split("\n")[0];
  assert.equal(header, "id,text,n");
  const json = await collect(classify(identity, input, {
    ...OPTIONS,
    outputDir: `${root}/json`,
    encode: "json",
  })) as OutputPart[];
  const arrays = await Promise.all(
    json.map(async (p) => JSON.parse(await Deno.readTextFile(p.path))),
  );
  assert.deepEqual(arrays.flat(), JSON.parse(await document(input, "json")));
  const want = await document(input, "ndjson");
  for (
    const [compression, inflate] of [["gzip", gunzipSync], ["zstd", zstdDecompressSync]] as const
  ) {
    const parts = await collect(classify(identity, input, {
      ...OPTIONS,
      outputDir: `${root}/${compression}`,
      partCompression: compression,
    })) as OutputPart[];
    assert.match(parts[0].name, compression === "gzip" ? /\.ndjson\.gz$/ : /\.ndjson\.zst$/);
    const text = parts.map((p) => new TextDecoder().decode(inflate(Deno.readFileSync(p.path))));
    assert.equal(text.join(""), want);
  }
  await collect(
    classify(identity, input, { ...OPTIONS, outputDir: `${root}/pq`, encode: "parquet" }),
  );
  const back = await duckdb(
    `SELECT id, text, n FROM read_parquet('${root}/pq/part-*.parquet') ORDER BY id::INT`,
  );
  assert.deepEqual(back, want.trim().split("\n").map((l) => JSON.parse(l)));
  await Deno.remove(root, { recursive: true });
});

Deno.test("tasks run again after crashes leave one part each; no temporary file is left", async () => {
  const input = await tempFile("awkward.csv", awkwardCsv(3_000));
  const dir = await Deno.makeTempDir();
  const parts = await collect(classify(fixture("crash.ts"), input, {
    ...OPTIONS,
    spec: { how: "exit", at: "1500" },
    onError: "skip",
    outputDir: dir,
  })) as OutputPart[];
  const lines = new TextDecoder().decode(await joined(parts.map((p) => p.path))).trim().split("\n");
  const ids = lines.map((l) => JSON.parse(l));
  assert.deepEqual(
    ids,
    Array.from({ length: 3_000 }, (_, i) => String(i)).filter((i) => i !== "1500"),
  );
  assert.deepEqual(await names(dir), ["_SUCCESS", ...parts.map((p) => p.name)]);
});

Deno.test("[process] a worker killed while the parts are written: each task's part appears once, whole", async () => {
  const input = await tempFile("big.csv", awkwardCsv(60_000));
  const dir = await Deno.makeTempDir();
  const want = await document(input, "ndjson");
  const pids = await Deno.makeTempDir();
  const watcher = Deno.watchFs(dir);
  // Kill a worker process as soon as the first part is being written.
  const killed = deadline(
    (async () => {
      for await (const event of watcher) {
        if (event.paths.some((p) => p.includes("/.crunch-"))) {
          const worker = Number([...Deno.readDirSync(pids)][0].name);
          assert.ok(worker > 0 && worker !== Deno.pid, `worker process ${worker}`);
          Deno.kill(worker, "SIGKILL");
          return worker;
        }
      }
    })(),
    60_000,
  );
  let respawns = 0;
  const run = collect(classify(fixture("pid_noted.ts"), input, {
    ...OPTIONS,
    spec: { pids },
    chunkBytes: 64 << 10,
    isolation: "process",
    outputDir: dir,
    onProgress: (p) => respawns = p.respawns,
  })) as Promise<OutputPart[]>;
  const [parts] = await Promise.all([run, killed]);
  watcher.close();
  assert.ok(respawns >= 1, `${respawns} respawns`);
  const text = new TextDecoder().decode(await joined(parts.map((p) => p.path)));
  assert.equal(text, want);
  assert.deepEqual(await names(dir), ["_SUCCESS", ...parts.map((p) => p.name)]);
});

Deno.test("the command writes parts with --output-dir; -o with it, and --tagged, are refused", async () => {
  const input = await tempFile("awkward.csv", awkwardCsv(1_000));
  const dir = `${await Deno.makeTempDir()}/parts`;
  const { code, stdout, stderr } = await runCrunch([
    identity.pathname,
    input,
    "--output-dir",
    dir,
    "-t",
    "csv",
    "--chunk-bytes",
    "8k",
  ]);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, "");
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/_SUCCESS`));
  assert.match(stderr, new RegExp(`1,000 results out.*; ${manifest.parts.length} parts in ${dir}`));
  for (const flags of [["-o", `${dir}.ndjson`], ["--tagged"]]) {
    const refused = await runCrunch([
      identity.pathname,
      input,
      "--output-dir",
      `${dir}2`,
      ...flags,
    ]);
    assert.equal(refused.code, 2, refused.stderr);
  }
});

/** The batches of parts a folder's journal holds so far (0 while there is none). */
function batchesIn(dir: string): number {
  try {
    return (Deno.readTextFileSync(`${dir}/.crunch-journal`).match(/"kind":"parts"/g) ?? []).length;
  } catch {
    return 0;
  }
}

Deno.test("--resume with --output-dir goes on from the parts journaled; the parts hold what -o would", async () => {
  const root = await Deno.makeTempDir();
  const input = await tempFile("awkward.csv", awkwardCsv(20_000));
  const spin = fixture("spin.ts").pathname;
  const args = [spin, input, "-s", '{"us": 40}', "--chunk-bytes", "16k", "-w", "2"];
  const want = await runCrunch([...args, "--ordered", "-o", `${root}/want.ndjson`]);
  assert.equal(want.code, 0, want.stderr);
  const dir = `${root}/parts`;
  const resumable = [...args, "--output-dir", dir, "--resume"];
  const run = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../lib/cli/main.ts", import.meta.url).pathname, ...resumable],
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  // Killed once the journal holds two batches of parts.
  const end = performance.now() + 60_000;
  while (batchesIn(dir) < 2) {
    assert.ok(performance.now() < end, "the journal never held two batches");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  run.kill("SIGKILL");
  await run.status;
  const before = (await names(dir)).filter((n) => n.startsWith("part-"));
  assert.ok(before.length >= 2, `${before.length} parts before the kill`);
  const again = await runCrunch(resumable);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /records in \([\d,]+ before this run\)/);
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/_SUCCESS`));
  const paths = manifest.parts.map((p: { name: string }) => `${dir}/${p.name}`);
  assert.equal(
    new TextDecoder().decode(await joined(paths)),
    await Deno.readTextFile(`${root}/want.ndjson`),
  );
  assert.equal(manifest.results, 20_000);
  assert.deepEqual(
    (await names(dir)).filter((n) => !n.startsWith(".crunch-journal")),
    ["_SUCCESS", ...manifest.parts.map((p: { name: string }) => p.name)],
  );
  const done = await runCrunch(resumable);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stderr, /nothing to resume: .* is complete/);
  const changed = await runCrunch([
    spin,
    input,
    "-s",
    '{"us": 41}',
    ...args.slice(4),
    "--output-dir",
    dir,
    "--resume",
  ]);
  assert.equal(changed.code, 1, changed.stderr);
  assert.match(changed.stderr, /cannot resume: spec .* differs from the run that wrote/);
  await Deno.remove(root, { recursive: true });
});
