/**
 * s3:// inputs against a real S3-compatible server (s3rver) on loopback:
 * a key, a prefix, a glob, a compressed object, a missing key, through the
 * library and the command, with the endpoint and credentials from the
 * standard environment.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { classify, files, InputError } from "../mod.ts";
import { awkwardCsv, collect, fixture, runCrunch, tempFile } from "./helpers.ts";
import { S3Server } from "./http_harness.ts";

const identity = fixture("identity.ts");
const OPTIONS = { workers: 2, chunkBytes: 4096, ordered: true, tagged: true } as const;

/** Runs `fn` with the environment pointing at `server`, put back after. */
async function withEnv(env: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  try {
    await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  }
}

Deno.test("s3:// a key, a prefix and a glob read by range like local files; a missing key is an InputError", async () => {
  const server = await S3Server.start("data");
  try {
    const a = new TextEncoder().encode(awkwardCsv(3_000));
    const b = new TextEncoder().encode(awkwardCsv(2_000));
    await server.put("logs/2026/a.csv", a);
    await server.put("logs/2026/b.csv.gz", gzipSync(b));
    await server.put("logs/other.tsv", new TextEncoder().encode("x\ty\n1\t2\n"));
    const want = [
      ...await collect(classify(identity, await tempFile("a.csv", a), OPTIONS)),
      ...await collect(classify(identity, await tempFile("b.csv", b), OPTIONS)),
    ].map((r) => (r as { result: unknown }).result);
    await withEnv(server.env, async () => {
      let reader: string | undefined;
      const one = await collect(classify(identity, "s3://data/logs/2026/a.csv", {
        ...OPTIONS,
        onProgress: (p) => reader = p.reader,
      }));
      assert.deepEqual(one.map((r) => (r as { result: unknown }).result), want.slice(0, 3_000));
      assert.equal(reader, "workers");
      for (const many of ["s3://data/logs/2026/", "s3://data/logs/*/*.csv*"]) {
        const got = await collect(classify(identity, files(many), OPTIONS)) as {
          file: string;
          result: unknown;
        }[];
        assert.deepEqual(got.map((r) => r.result), want, many);
        assert.deepEqual([...new Set(got.map((r) => r.file))], [
          "s3://data/logs/2026/a.csv",
          "s3://data/logs/2026/b.csv.gz",
        ]);
      }
      await assert.rejects(
        collect(classify(identity, "s3://data/logs/2026/nope.csv", OPTIONS)),
        (error: unknown) => {
          assert.ok(error instanceof InputError);
          assert.equal(
            error.message,
            "s3://data/logs/2026/nope.csv: no such object (404 NoSuchKey)",
          );
          return true;
        },
      );
      await assert.rejects(
        collect(classify(identity, files("s3://data/nothing/*.csv"), OPTIONS)),
        /s3:\/\/data\/nothing\/\*\.csv: no object matches/,
      );
    });
    const command = await runCrunch(
      [identity.pathname, "s3://data/logs/2026/", "--ordered", "-w", "2", "--tagged"],
      { env: server.env },
    );
    assert.equal(command.code, 0, command.stderr);
    assert.equal(command.stdout.trim().split("\n").length, 5_000);
    assert.match(command.stderr, /5,000 records in.*\(from s3:\/\/data\)$/m);
    assert.doesNotMatch(command.stderr, /S3RVER/);
  } finally {
    await server.stop();
  }
});

Deno.test("parts to s3://: each task's part is an object, committed once (copied to its name), with _SUCCESS", async () => {
  const server = await S3Server.start("data");
  try {
    const input = await tempFile("parts.csv", awkwardCsv(3_000));
    const options = { workers: 2, chunkBytes: 4096, ordered: true } as const;
    const want = (await collect(classify(identity, input, { ...options, encode: "ndjson" })))
      .map((b) => new TextDecoder().decode(b)).join("");
    await withEnv(server.env, async () => {
      const parts = await collect(classify(identity, input, {
        ...options,
        outputDir: "s3://data/out/2026/",
      }));
      assert.ok(parts.length > 10, `${parts.length} parts`);
      assert.equal(parts[0].path, "s3://data/out/2026/part-000000.ndjson");
      const keys = await server.keys("out/2026/");
      assert.deepEqual(keys, ["out/2026/_SUCCESS", ...parts.map((p) => `out/2026/${p.name}`)]);
      const text = [];
      for (const part of parts) {
        text.push(new TextDecoder().decode(await server.get(`out/2026/${part.name}`)));
      }
      assert.equal(text.join(""), want);
      const manifest = JSON.parse(new TextDecoder().decode(await server.get("out/2026/_SUCCESS")));
      assert.equal(manifest.results, 3_000);
      await assert.rejects(
        collect(classify(identity, input, { ...options, outputDir: "s3://data/out/2026" })),
        /holds (_SUCCESS|part-\d+\.ndjson) of an earlier run/,
      );
    });
  } finally {
    await server.stop();
  }
});
