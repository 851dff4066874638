/**
 * Real HTTP servers on loopback ports of their own, for the tests of inputs
 * by URL: nginx (Debian's nginx-light) serving a folder with byte ranges and
 * an access log, Python's `http.server` (which ignores `Range`), and an
 * S3-compatible server (s3rver, from npm) with a bucket. Where a server is
 * not installed, the tests that need it are ignored, saying so.
 */

function runs(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** True where nginx can be run. */
export const HAVE_NGINX = runs("nginx", ["-v"]);
if (!HAVE_NGINX) {
  console.error("nginx is not installed: the tests that serve files with it are ignored");
}

/** A free loopback port (the kernel's choice, released at once). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Waits (bounded) until something listens on `port`, or `child` ends. */
async function listening(port: number, child: Deno.ChildProcess, what: string): Promise<void> {
  let ended = false;
  child.status.then(() => ended = true);
  const until = performance.now() + 15_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      if (ended) throw new Error(`${what} ended before it listened on ${port}`);
      if (performance.now() > until) throw new Error(`${what} did not listen on ${port} in 15 s`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** A server process serving a folder, stopped by `stop()`. */
export class FolderServer {
  readonly port: number;
  readonly root: string;
  readonly #child: Deno.ChildProcess;
  readonly #log?: string;

  private constructor(port: number, root: string, child: Deno.ChildProcess, log?: string) {
    this.port = port;
    this.root = root;
    this.#child = child;
    this.#log = log;
  }

  /** nginx serving `root` (ranges, keep-alive, an access log with each request's Range). */
  static async nginx(root: string): Promise<FolderServer> {
    const port = freePort();
    const prefix = await Deno.makeTempDir({ prefix: "crunch-nginx-" });
    const log = `${prefix}/access.log`;
    const conf = `${prefix}/nginx.conf`;
    await Deno.writeTextFile(
      conf,
      `daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log;
events { worker_connections 256; }
http {
  log_format ranges '$request_method $uri $status $http_range $body_bytes_sent';
  access_log ${log} ranges;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 10000;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`,
    );
    const child = new Deno.Command("nginx", {
      args: ["-p", prefix, "-c", conf],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await listening(port, child, "nginx");
    return new FolderServer(port, root, child, log);
  }

  /** Python's http.server serving `root`: it answers a Range request with the whole file. */
  static async python(root: string): Promise<FolderServer> {
    const port = freePort();
    const child = new Deno.Command("python3", {
      args: ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await listening(port, child, "python3 -m http.server");
    return new FolderServer(port, root, child);
  }

  /** The URL of `name` in the folder. */
  url(name: string): string {
    return `http://127.0.0.1:${this.port}/${name}`;
  }

  /** The requests logged so far: method, path, status, Range header, bytes sent. */
  async requests(): Promise<{ path: string; status: number; range: string; bytes: number }[]> {
    if (this.#log === undefined) throw new Error("this server keeps no access log");
    const text = await Deno.readTextFile(this.#log).catch(() => "");
    return text.split("\n").filter(Boolean).map((line) => {
      const [, path, status, range, bytes] = line.split(" ");
      return { path, status: Number(status), range, bytes: Number(bytes) };
    });
  }

  /** Stops the server (by its PID) and waits for it to end. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already ended
    }
    await this.#child.status;
  }
}

/** What the object server does to one request instead of answering it well. */
export type Fault =
  | { kind: "status"; status: number; retryAfter?: string }
  | { kind: "break" }
  | { kind: "stall" };

/** One request the object server saw. */
export interface SeenRequest {
  range: string | null;
  status: number;
  fault?: Fault["kind"];
}

/**
 * An object served by a small server in this process that a test controls:
 * byte ranges with an ETag, faults on the requests it picks (a status, a
 * body that breaks off, a body that never comes), a header it requires,
 * and the object replaced by another under the run.
 */
export class ObjectServer {
  readonly requests: SeenRequest[] = [];
  /** The fault for the n-th request (0-based) and its Range, if any. */
  fault: (n: number, range: string | null) => Fault | undefined = () => undefined;
  #bytes: Uint8Array;
  #version = 1;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #auth?: string;
  readonly #stalled = new Set<ReadableStreamDefaultController<Uint8Array>>();

  private constructor(bytes: Uint8Array, auth?: string) {
    this.#bytes = bytes;
    this.#auth = auth;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#answer(request),
    );
  }

  /** Serves `bytes`; with `auth`, only to requests whose Authorization header is that. */
  static start(bytes: Uint8Array, auth?: string): ObjectServer {
    return new ObjectServer(bytes, auth);
  }

  /** The object's URL (its name only sets the format). */
  url(name = "data.csv"): string {
    return `http://127.0.0.1:${this.#server.addr.port}/${name}`;
  }

  /** Replaces the object (a new ETag). */
  replace(bytes: Uint8Array): void {
    this.#bytes = bytes;
    this.#version++;
  }

  #answer(request: Request): Response {
    const range = request.headers.get("range");
    const seen: SeenRequest = { range, status: 200 };
    this.requests.push(seen);
    if (this.#auth !== undefined && request.headers.get("authorization") !== this.#auth) {
      seen.status = 401;
      return new Response("who are you?", { status: 401 });
    }
    const url = new URL(request.url);
    if (url.pathname === "/missing.csv") {
      seen.status = 404;
      return new Response("not here", { status: 404 });
    }
    const fault = this.fault(this.requests.length - 1, range);
    seen.fault = fault?.kind;
    if (fault?.kind === "status") {
      seen.status = fault.status;
      const headers = fault.retryAfter === undefined
        ? undefined
        : { "retry-after": fault.retryAfter };
      return new Response("not now", { status: fault.status, headers });
    }
    const size = this.#bytes.length;
    const match = range?.match(/^bytes=(\d+)-(\d*)$/);
    const from = match ? Number(match[1]) : 0;
    const to = match && match[2] !== "" ? Math.min(size - 1, Number(match[2])) : size - 1;
    const headers: Record<string, string> = {
      etag: `"v${this.#version}"`,
      "last-modified": new Date(Date.UTC(2026, 0, this.#version)).toUTCString(),
      "accept-ranges": "bytes",
    };
    if (match && from >= size) {
      seen.status = 416;
      return new Response(null, { status: 416, headers: { "content-range": `bytes */${size}` } });
    }
    if (match) headers["content-range"] = `bytes ${from}-${to}/${size}`;
    seen.status = match ? 206 : 200;
    const body = this.#bytes.slice(from, to + 1);
    if (fault === undefined) return new Response(body, { status: seen.status, headers });
    const stalled = this.#stalled;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        if (fault.kind === "stall") {
          stalled.add(controller);
          return;
        }
        controller.enqueue(body.subarray(0, body.length >> 1));
        controller.error(new Error("connection broken by the test"));
      },
      cancel() {
        for (const c of stalled) stalled.delete(c);
      },
    });
    return new Response(stream, { status: seen.status, headers });
  }

  /** Stops serving. */
  async stop(): Promise<void> {
    for (const controller of this.#stalled) {
      try {
        controller.error(new Error("stopped"));
      } catch {
        // already ended
      }
    }
    await this.#server.shutdown();
  }
}

/** An S3-compatible server (s3rver) in a process of its own, with one bucket. */
export class S3Server {
  readonly port: number;
  readonly bucket: string;
  readonly #child: Deno.ChildProcess;

  private constructor(port: number, bucket: string, child: Deno.ChildProcess) {
    this.port = port;
    this.bucket = bucket;
    this.#child = child;
  }

  /** Starts one serving `bucket`, and waits until it listens. */
  static async start(bucket = "data"): Promise<S3Server> {
    const folder = await Deno.makeTempDir({ prefix: "crunch-s3-" });
    const script = new URL("./s3_server.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, folder, bucket],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const first = await Promise.race([
      lines.read(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("s3rver did not start in 60 s")), 60_000)
      ),
    ]);
    lines.releaseLock();
    child.stdout.cancel().catch(() => {});
    const port = Number(first.value?.match(/port (\d+)/)?.[1]);
    if (!port) throw new Error(`s3rver said ${first.value}`);
    return new S3Server(port, bucket, child);
  }

  /** The environment that points crunch at it (path-style, its fixed credentials). */
  get env(): Record<string, string> {
    return {
      AWS_ENDPOINT_URL: `http://127.0.0.1:${this.port}`,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
    };
  }

  /** A signed request to the bucket (`path` after its name). */
  async #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    // deno-lint-ignore no-import-prefix
    const { AwsClient } = await import("npm:aws4fetch@1.0.20");
    const aws = new AwsClient({
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      region: "us-east-1",
      service: "s3",
    });
    return await aws.fetch(`http://127.0.0.1:${this.port}/${this.bucket}/${path}`, init);
  }

  /** Stores `bytes` as `key` (a signed PUT). */
  async put(key: string, bytes: Uint8Array): Promise<void> {
    const response = await this.#fetch(key, {
      method: "PUT",
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`PUT ${key}: ${response.status}`);
  }

  /** The bytes stored as `key`. */
  async get(key: string): Promise<Uint8Array> {
    const response = await this.#fetch(key);
    if (!response.ok) throw new Error(`GET ${key}: ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** The keys under `prefix`, sorted. */
  async keys(prefix: string): Promise<string[]> {
    const response = await this.#fetch(`?list-type=2&prefix=${encodeURIComponent(prefix)}`);
    const text = await response.text();
    return [...text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]).sort();
  }

  /** Stops it (by its PID). */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already ended
    }
    await this.#child.status;
  }
}
