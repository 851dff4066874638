/** Shared helpers for the tests: temporary files, fixtures, collecting results. */

/** URL of a classifier module in tests/fixtures. */
export function fixture(name: string): URL {
  return new URL(`./fixtures/${name}`, import.meta.url);
}

/** Writes `content` to a new temporary file named `name`; returns its path. */
export async function tempFile(name: string, content: string | Uint8Array): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "crunch-test-" });
  const path = `${dir}/${name}`;
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

/** Drains an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

/** A stream that delivers `bytes` in pieces of the given sizes (cycled). */
export function piecewise(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let k = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const size = Math.max(1, sizes[k++ % sizes.length]);
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

/** CSV text for `rows` of an `id,text` file: id i, text `text(i)`. */
export function numberedCsv(count: number, text = (i: number) => `row ${i}`): string {
  let out = "id,text\n";
  for (let i = 0; i < count; i++) out += `${i},${text(i)}\n`;
  return out;
}

/** CSV whose quoted fields hold commas, quotes, LFs and multibyte text, in many 4 KiB ranges. */
export function awkwardCsv(rows: number): string {
  let out = "id,text,n\n";
  for (let i = 0; i < rows; i++) {
    const text = i % 7 === 0
      ? `"line one ${i}\nline two, with ""quotes"" é😀"`
      : i % 5 === 0
      ? `"a, b ${"x".repeat(i % 90)}"`
      : `plain ${i} ${"ü".repeat(i % 13)}`;
    out += `${i},${text},${i * 3}\n`;
  }
  return out;
}

/** Longest a command run by a test may take. */
const COMMAND_DEADLINE_MS = 120_000;

/** Runs `deno` with `args`; returns exit code, stdout, stderr and seconds taken. */
export async function runDeno(
  args: string[],
  options: { cwd?: string; stdin?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const started = performance.now();
  const command = new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...options.env },
  });
  const child = command.spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  // A command that hangs fails its test (after SIGKILL) instead of stalling the suite.
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // it has ended
    }
  }, COMMAND_DEADLINE_MS);
  const { code, stdout, stderr } = await child.output().finally(() => clearTimeout(timer));
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  if (hung) {
    throw new Error(
      `deno ${args.join(" ")} still ran after ${COMMAND_DEADLINE_MS / 1000} s: killed. ` +
        `Its standard error: ${decode(stderr)}`,
    );
  }
  return {
    code,
    stdout: decode(stdout),
    stderr: decode(stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

/** Path of the crunch command's module. */
export const CLI = new URL("../lib/cli/main.ts", import.meta.url).pathname;

/** Runs the crunch command with `args`, as a real subprocess. */
export function runCrunch(
  args: string[],
  options: { cwd?: string; stdin?: string; env?: Record<string, string> } = {},
): ReturnType<typeof runDeno> {
  return runDeno(["run", "-A", CLI, ...args], options);
}

/** Settles as `promise` does, or rejects after `ms`: a hang fails the test instead of stalling it. */
export function deadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
