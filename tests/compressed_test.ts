/** gzip and zstd inputs, single and multi-member or multi-frame, truncated, by path and stream. */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { classify, files, InputError, type Progress } from "../mod.ts";
import { sniff, ZstdFrames } from "../lib/input/compression.ts";
import { collect, fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

const identity = fixture("identity.ts");
const csv = numberedCsv(30_000);
const bytes = new TextEncoder().encode(csv);

/** `bytes` compressed in `pieces` independent members (gzip) or frames (zstd), concatenated. */
function compress(kind: "gzip" | "zstd", pieces: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const size = Math.ceil(bytes.length / pieces);
  for (let at = 0; at < bytes.length; at += size) {
    const part = bytes.subarray(at, at + size);
    parts.push(kind === "gzip" ? zlib.gzipSync(part) : zlib.zstdCompressSync(part));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function ids(input: string | ReadableStream<Uint8Array>, progress?: Progress[]) {
  const rows = await collect(classify(identity, input, {
    workers: 2,
    ordered: true,
    format: typeof input === "string" ? undefined : "csv",
    chunkBytes: 32 << 10,
    onProgress: (p) => progress?.push(p),
  })) as { id: string }[];
  return rows.map((r) => Number(r.id));
}

const all = Array.from({ length: 30_000 }, (_, i) => i);

for (const kind of ["gzip", "zstd"] as const) {
  const ext = kind === "gzip" ? "gz" : "zst";
  Deno.test(`${kind}: one ${kind === "gzip" ? "member" : "frame"} and many, by path`, async () => {
    for (const pieces of [1, 7]) {
      const path = await tempFile(`data.csv.${ext}`, compress(kind, pieces));
      const progress: Progress[] = [];
      assert.deepEqual(await ids(path, progress), all, `${pieces} pieces`);
      const last = progress.at(-1)!;
      // Progress counts compressed bytes: it ends at the file's size.
      assert.equal(last.bytesTotal, (await Deno.stat(path)).size);
      assert.equal(last.bytesRead, last.bytesTotal);
    }
  });

  Deno.test(`${kind}: told by its first bytes, from a stream or a file without the extension`, async () => {
    const data = compress(kind, 3);
    assert.deepEqual(await ids(ReadableStream.from([data.subarray(0, 5), data.subarray(5)])), all);
    const path = await tempFile("data.csv", data); // misnamed: the bytes decide
    assert.deepEqual(await ids(path), all);
  });

  Deno.test(`${kind}: a truncated file is an InputError, never fewer records in silence`, async () => {
    const data = compress(kind, 1);
    const path = await tempFile(`cut.csv.${ext}`, data.subarray(0, data.length - 100));
    await assert.rejects(
      () => ids(path),
      (e) => e instanceof InputError && e.file === path && /cannot be decoded/.test(e.message),
    );
  });
}

Deno.test("a worker that dies on compressed input: its chunk is re-run from a kept copy", async () => {
  const path = await tempFile("crash.csv.gz", zlib.gzipSync(bytes));
  const errors: unknown[] = [];
  let last: Progress | undefined;
  const rows = await collect(classify(fixture("crash.ts"), path, {
    workers: 2,
    chunkBytes: 32 << 10,
    spec: { how: "exit", at: "12345" },
    onError: (e) => errors.push(e),
    onProgress: (p) => last = p,
  }));
  assert.equal(rows.length, 29_999);
  assert.equal(errors.length, 1);
  assert.ok(last!.retries > 0);
});

Deno.test("many compressed files, gzip and zstd mixed, one after another on kept decoders", async () => {
  // Each file decoded on a worker kept from the file before: the kind, the members or frames
  // and a truncated file among them must not leak from one file into the next.
  const dir = await Deno.makeTempDir();
  const per = 1000;
  for (let k = 0; k < 24; k++) {
    const part = new TextEncoder().encode(
      numberedCsv(per).replace(/^(\d+),/gm, (_, id) => `${k * per + Number(id)},`),
    );
    const kind = k % 3 === 2 ? "zstd" : "gzip";
    const pieces = k % 2 ? 3 : 1;
    const size = Math.ceil(part.length / pieces);
    const parts: Uint8Array<ArrayBuffer>[] = [];
    for (let at = 0; at < part.length; at += size) {
      const slice = part.subarray(at, at + size);
      parts.push(
        new Uint8Array(kind === "gzip" ? zlib.gzipSync(slice) : zlib.zstdCompressSync(slice)),
      );
    }
    const name = `${dir}/part${String(k).padStart(2, "0")}.csv.${kind === "gzip" ? "gz" : "zst"}`;
    await Deno.writeFile(name, new Uint8Array(await new Blob(parts).arrayBuffer()));
  }
  const rows = await collect(
    classify(identity, files(dir), { workers: 2, ordered: true, chunkBytes: 32 << 10 }),
  ) as { id: string }[];
  assert.deepEqual(rows.map((r) => Number(r.id)), Array.from({ length: 24 * per }, (_, i) => i));
  // A truncated file in the middle is an InputError naming it; none of the files after it is read.
  const broken = `${dir}/part05.csv.zst`;
  const whole = await Deno.readFile(broken);
  await Deno.writeFile(broken, whole.subarray(0, whole.length - 9));
  await assert.rejects(
    collect(classify(identity, files(dir), { workers: 2, ordered: true })),
    (e) => e instanceof InputError && /part05\.csv\.zst/.test(e.message),
  );
});

Deno.test("bzip2 and xz are named, with the way to read them anyway", async () => {
  for (const [ext, head] of [["bz2", "BZh91AY&SY"], ["xz", "\xfd7zXZ\x00"]]) {
    const path = await tempFile(`data.csv.${ext}`, Uint8Array.from(head, (c) => c.charCodeAt(0)));
    await assert.rejects(
      () => ids(path),
      (e) =>
        e instanceof InputError &&
        new RegExp(`it is (bzip2|xz)-compressed.*<\\((bz|xz)cat `).test(e.message),
    );
  }
});

Deno.test("the command reads .csv.gz and .csv.zst, from a path and from standard input", async () => {
  const gz = await tempFile("c.csv.gz", compress("gzip", 2));
  const zst = await tempFile("c.csv.zst", compress("zstd", 2));
  const want = all.map((i) => `{"id":"${i}","text":"row ${i}"}\n`).join("");
  for (const path of [gz, zst]) {
    const r = await runCrunch(["--ordered", identity.pathname, path]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, want);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../lib/cli/main.ts", import.meta.url).pathname,
      "--ordered",
      identity.pathname,
      "-",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(await Deno.readFile(zst));
  await writer.close();
  const piped = await child.output();
  assert.equal(piped.code, 0, new TextDecoder().decode(piped.stderr));
  assert.equal(new TextDecoder().decode(piped.stdout), want);
});

Deno.test("the zstd frame walker finds every frame end, byte by byte or all at once", () => {
  const data = compress("zstd", 5);
  assert.equal(sniff(data), "zstd");
  const whole = new ZstdFrames();
  const ends = whole.split(data).filter((p) => p.ends).length;
  assert.equal(ends, 5);
  assert.ok(whole.atBoundary);
  const slow = new ZstdFrames();
  let seen = 0;
  for (let k = 0; k < data.length; k++) {
    seen += slow.split(data.subarray(k, k + 1)).filter((p) => p.ends).length;
  }
  assert.equal(seen, 5);
  const cut = new ZstdFrames();
  cut.split(data.subarray(0, data.length - 1));
  assert.ok(!cut.atBoundary);
});
