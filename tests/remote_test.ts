/**
 * Inputs by URL, against real servers on loopback: nginx (byte ranges, a
 * keep-alive connection, an access log), Python's http.server (which
 * ignores Range), a server in this process that fails the requests a test
 * picks, and an S3-compatible server (s3rver). Results are checked against
 * a run over the same bytes from a local file.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { classify, files, InputError } from "../mod.ts";
import { awkwardCsv, CLI, collect, deadline, fixture, runCrunch, tempFile } from "./helpers.ts";
import { FolderServer, HAVE_NGINX, ObjectServer } from "./http_harness.ts";

const identity = fixture("identity.ts");

const CSV = awkwardCsv(6_000);
const BYTES = new TextEncoder().encode(CSV);
const OPTIONS = { workers: 2, chunkBytes: 4096, ordered: true, tagged: true } as const;

/** What a run over the same bytes from a local file gives. */
async function local(name = "local.csv", bytes: Uint8Array = BYTES): Promise<unknown[]> {
  const path = await tempFile(name, bytes);
  return await collect(classify(identity, path, OPTIONS));
}

const expected = local();

/** Runs `fn` with nginx serving `data.csv` (BYTES) from a folder of its own. */
async function withNginx(fn: (server: FolderServer, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir();
  await Deno.writeFile(`${root}/data.csv`, BYTES);
  const server = await FolderServer.nginx(root);
  try {
    await fn(server, root);
  } finally {
    await server.stop();
  }
}

Deno.test({
  name: "nginx: a URL is read by range by the workers, results as from the local file",
  ignore: !HAVE_NGINX,
  async fn() {
    await withNginx(async (server) => {
      let reader: string | undefined;
      const got = await collect(classify(identity, server.url("data.csv"), {
        ...OPTIONS,
        onProgress: (p) => reader = p.reader,
      }));
      assert.deepEqual(
        got.map((r) => (r as { result: unknown }).result),
        (await expected).map((r) => (r as { result: unknown }).result),
      );
      assert.equal(reader, "workers");
      const ranged = (await server.requests()).filter((r) => r.status === 206);
      assert.ok(ranged.length > 10, `${ranged.length} ranged requests`);
      // The main thread's first request is bounded; every worker's is a bounded range too.
      assert.ok(ranged.every((r) => /^bytes=\d+-\d+$/.test(r.range)), JSON.stringify(ranged[0]));
      const sent = ranged.reduce((n, r) => n + r.bytes, 0);
      assert.ok(sent < BYTES.length * 2, `${sent} bytes sent for ${BYTES.length}`);
    });
  },
});

Deno.test({
  name:
    "nginx: gzip and zstd objects stream through the decoding worker; files() mixes URLs and paths",
  ignore: !HAVE_NGINX,
  async fn() {
    const root = await Deno.makeTempDir();
    await Deno.writeFile(`${root}/data.csv.gz`, gzipSync(BYTES));
    const zstd = new Deno.Command("zstd", {
      args: ["-q", "-o", `${root}/data.csv.zst`],
      stdin: "piped",
    }).spawn();
    const writer = zstd.stdin.getWriter();
    await writer.write(BYTES);
    await writer.close();
    assert.ok((await zstd.status).success);
    const server = await FolderServer.nginx(root);
    try {
      const want = (await expected).map((r) => (r as { result: unknown }).result);
      for (const name of ["data.csv.gz", "data.csv.zst"]) {
        const got = await collect(classify(identity, server.url(name), OPTIONS));
        assert.deepEqual(got.map((r) => (r as { result: unknown }).result), want, name);
      }
      const path = await tempFile("again.csv", BYTES);
      const both = await collect(
        classify(identity, files(server.url("data.csv.gz"), path), OPTIONS),
      ) as { file: string; index: number }[];
      assert.equal(both.length, want.length * 2);
      assert.equal(both[0].file, server.url("data.csv.gz"));
      assert.equal(both.at(-1)!.file, path);
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "nginx: the command's ordered output by URL is byte-identical to its output from the file",
  ignore: !HAVE_NGINX,
  async fn() {
    await withNginx(async (server, root) => {
      const flags = ["--ordered", "-w", "2", "--chunk-bytes", "4096"];
      const path = `${root}/data.csv`;
      const fromFile = await runCrunch([
        identity.pathname,
        path,
        ...flags,
        "-o",
        `${root}/a.ndjson`,
      ]);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const byUrl = await runCrunch([
        identity.pathname,
        server.url("data.csv"),
        ...flags,
        "-o",
        `${root}/b.ndjson`,
      ]);
      assert.equal(byUrl.code, 0, byUrl.stderr);
      assert.deepEqual(
        await Deno.readFile(`${root}/b.ndjson`),
        await Deno.readFile(`${root}/a.ndjson`),
      );
      assert.match(
        byUrl.stderr,
        /6,000 records in.*\(from 127\.0\.0\.1:\d+: the workers read byte ranges\)/,
      );
    });
  },
});

Deno.test("python's http.server ignores Range: the main thread streams it once, and the warnings say so", async () => {
  const root = await Deno.makeTempDir();
  await Deno.writeFile(`${root}/data.csv`, BYTES);
  const server = await FolderServer.python(root);
  try {
    let progress: {
      reader?: string;
      warnings?: string[];
      bytesRead?: number;
      bytesTotal?: number;
    } = {};
    const got = await collect(classify(identity, server.url("data.csv"), {
      ...OPTIONS,
      onProgress: (p) => progress = p,
    }));
    assert.deepEqual(got, await expected);
    assert.equal(progress.reader, "main");
    // Progress counts the stream's bytes against its Content-Length.
    assert.equal(progress.bytesTotal, BYTES.length);
    assert.equal(progress.bytesRead, BYTES.length);
    assert.match(progress.warnings?.join("\n") ?? "", /ignores byte-range requests/);
  } finally {
    await server.stop();
  }
});

Deno.test("503s, a Retry-After, a broken body and a body that never comes are retried per range", async () => {
  const server = ObjectServer.start(BYTES);
  try {
    // Range requests after the first: the 2nd to 4th fail with 503, the 6th breaks off, the 8th stalls.
    server.fault = (n) =>
      n >= 1 && n <= 3
        ? { kind: "status", status: 503, retryAfter: "0" }
        : n === 5
        ? { kind: "break" }
        : n === 7
        ? { kind: "stall" }
        : n === 9
        ? { kind: "status", status: 429 }
        : undefined;
    const got = await deadline(
      collect(classify(identity, server.url(), { ...OPTIONS, httpTimeout: 300 })),
      60_000,
    );
    assert.deepEqual(got, await expected);
    const faults = server.requests.filter((r) => r.fault).map((r) => r.fault);
    assert.deepEqual(faults, ["status", "status", "status", "break", "stall", "status"]);
  } finally {
    await server.stop();
  }
});

Deno.test("an object replaced during the run is an InputError, never a mix of two versions", async () => {
  const server = ObjectServer.start(BYTES);
  try {
    server.fault = (n) => {
      if (n === 6) server.replace(new TextEncoder().encode(awkwardCsv(6_001)));
      return undefined;
    };
    await assert.rejects(
      deadline(collect(classify(identity, server.url(), OPTIONS)), 60_000),
      (error: unknown) => {
        assert.ok(error instanceof InputError, String(error));
        assert.match(
          error.message,
          /data\.csv: it changed while it was being read \(ETag "v1", now "v2"\)/,
        );
        return true;
      },
    );
  } finally {
    await server.stop();
  }
});

Deno.test("a range that keeps failing ends the run naming the URL and its bytes", async () => {
  const server = ObjectServer.start(BYTES);
  try {
    server.fault = (n, range) =>
      n > 0 && range?.startsWith("bytes=4") ? { kind: "status", status: 500 } : undefined;
    await assert.rejects(
      deadline(collect(classify(identity, server.url(), OPTIONS)), 60_000),
      (error: unknown) => {
        assert.ok(error instanceof InputError, String(error));
        assert.match(
          error.message,
          /^http:\/\/127\.0\.0\.1:\d+\/data\.csv: .*bytes 4\d*-\d+: status 500 \(6 tries\)/,
        );
        return true;
      },
    );
  } finally {
    await server.stop();
  }
});

Deno.test("404 and 401 are InputErrors that say what to do; a header's value never shows", async () => {
  const secret = "Bearer s3cret-token";
  const server = ObjectServer.start(BYTES, secret);
  try {
    await assert.rejects(
      collect(
        classify(identity, server.url("missing.csv"), {
          ...OPTIONS,
          headers: { Authorization: secret },
        }),
      ),
      /missing\.csv: no such file on the server \(404\)/,
    );
    await assert.rejects(
      collect(classify(identity, server.url(), OPTIONS)),
      /data\.csv: the server wants credentials \(401\): give them with --header/,
    );
    for (const isolation of ["thread", "process"] as const) {
      const got = await collect(classify(identity, server.url(), {
        ...OPTIONS,
        isolation,
        headers: [["Authorization", secret]],
      }));
      assert.deepEqual(got, await expected, isolation);
    }
    const command = await runCrunch([
      identity.pathname,
      server.url(),
      "-w",
      "2",
      "--header",
      "Authorization: wrong",
    ]);
    assert.equal(command.code, 1);
    assert.match(command.stderr, /the server wants credentials \(401\)/);
    const ok = await runCrunch([
      identity.pathname,
      server.url(),
      "-w",
      "2",
      "--header",
      `Authorization: ${secret}`,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim().split("\n").length, 6_000);
    assert.doesNotMatch(command.stderr + ok.stderr, /s3cret/);
    const bad = await runCrunch([identity.pathname, server.url(), "--header", "Authorization"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--header must be a header as 'Name: value'/);
  } finally {
    await server.stop();
  }
});

Deno.test({
  name: "nginx: --resume of a URL input goes on from its journal; a changed object is refused",
  ignore: !HAVE_NGINX,
  async fn() {
    await withNginx(async (server, root) => {
      const spin = fixture("spin.ts").pathname;
      const common = ["--chunk-bytes", "2k", "-s", '{"us": 300}', spin, server.url("data.csv")];
      const want = await runCrunch(["--ordered", "-o", `${root}/want.ndjson`, ...common]);
      assert.equal(want.code, 0, want.stderr);
      const args = ["--resume", "-o", `${root}/out.ndjson`, ...common];
      const journal = `${root}/out.ndjson.crunch-journal`;
      await killedAtPoint(args, journal, 3);
      const again = await runCrunch(args);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(
        await Deno.readTextFile(`${root}/out.ndjson`),
        await Deno.readTextFile(`${root}/want.ndjson`),
      );
      // Interrupted again, then the object changes: the journal's identity no longer holds.
      await Deno.remove(`${root}/out.ndjson`);
      await killedAtPoint(args, journal, 2);
      await Deno.writeTextFile(`${root}/data.csv`, awkwardCsv(6_001));
      const refused = await runCrunch(args);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /cannot resume: input \(was \{"url":"http:.*"size":252769,.*\) differs/,
      );
    });
  },
});

/** Runs the command with `args` until its `journal` holds `points` points, then SIGKILLs it. */
async function killedAtPoint(args: string[], journal: string, points: number): Promise<void> {
  const run = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const count = () => (Deno.readTextFileSync(journal).match(/"point"/g) ?? []).length;
  const until = performance.now() + 60_000;
  while ((await Deno.stat(journal).then(count, () => 0)) < points) {
    assert.ok(performance.now() < until, `no ${points} journal points within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  run.kill("SIGKILL");
  await run.status;
}
