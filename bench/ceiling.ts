/**
 * The main thread's ceiling, by simulation: how many results a second the
 * run's core can take in when its workers cost nothing. An instant backend
 * answers each task at once (on the next turn of the event loop, as a
 * worker's message would come) with results prepared before the timing:
 * the record count and cut of each byte range (from the file's line ends,
 * found once), and the results as a worker sends them (JSON text of plain
 * objects, which the main thread parses, or NDJSON bytes). What is timed is
 * then what the main thread does: cutting (main reader) or ranges,
 * receiving, dispatch, release, ordering, and the consumer's side (the
 * library's iterator, `batches()`, or the command's encoded bytes written to
 * /dev/null). Not counted: the structured clone of a message's envelope. Dividing by what one worker does per second (measured here,
 * in the same process, with the real pool) gives the number of workers at
 * which the main thread would be the limit.
 *
 * Usage: `deno run -A bench/ceiling.ts [--reps=5] [--file=PATH]` (the
 * 100 MB plain shape of `deno task bench` by default).
 *
 * @module
 */

import { Engine, type Lease } from "../lib/run/engine.ts";
import { RunIterator } from "../lib/run/iterator.ts";
import { resolveRunOptions } from "../lib/options.ts";
import type { Backend, BackendListener, BackendRun, Task } from "../lib/backends/backend.ts";
import type { ChunkBody, RangeBody, RunSettings } from "../lib/wire/task.ts";
import { Pool, type Progress } from "../mod.ts";

const reps = Number(Deno.args.find((a) => a.startsWith("--reps="))?.slice(7) ?? 5);
const file = Deno.args.find((a) => a.startsWith("--file="))?.slice(7) ??
  new URL("../.cache/bench/shapes-100mb/plain.csv", import.meta.url).pathname;
const TRIVIAL = new URL("./classifiers/trivial.ts", import.meta.url).pathname;

/** The byte offsets of every LF in the file (a plain CSV: each ends a record). */
async function lineEnds(path: string): Promise<Uint32Array> {
  const bytes = await Deno.readFile(path);
  const ends: number[] = [];
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) ends.push(at);
  return Uint32Array.from(ends);
}

/** The index of the first value in sorted `a` that is >= `x`. */
function lowerBound(a: Uint32Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const ends = await lineEnds(file);
/** The file's records: its lines after the header. */
const records = ends.length - 1;
const template = { id: "123456", text: "a result of about the size a trivial classifier returns" };
const element = JSON.stringify(template);
const line = new TextEncoder().encode(element + "\n");
let jsonText = "";
let ndjson = new Uint8Array(0);

/**
 * The JSON text of `n` results, as a worker sends plain objects of strings
 * (the main thread parses it: that part of receiving is real here).
 */
function jsonOf(n: number): string {
  if (n === 0) return "[]";
  while (jsonText.length < n * (element.length + 1)) jsonText += (jsonText ? "," : "") + element;
  return `[${jsonText.slice(0, n * (element.length + 1) - 1)}]`;
}

/** NDJSON bytes of `n` results: a view, as a worker's are transferred, not copied. */
function bytesOf(n: number): Uint8Array {
  if (ndjson.length < n * line.length) {
    ndjson = new Uint8Array(2 * n * line.length);
    for (let k = 0; k < ndjson.length / line.length; k++) ndjson.set(line, k * line.length);
  }
  return ndjson.subarray(0, n * line.length);
}

/** A backend whose "workers" answer every task at once with prepared results. */
class InstantBackend implements Backend {
  readonly size: number;
  readonly capacity: number;
  constructor(size: number) {
    this.size = size;
    this.capacity = size * 2;
  }
  begin(settings: RunSettings, _limits: unknown, listener: BackendListener): Promise<BackendRun> {
    return Promise.resolve(new InstantRun(this.capacity, settings, listener));
  }
  close(): Promise<string[]> {
    return Promise.resolve([]);
  }
  terminate(): Promise<void> {
    return Promise.resolve();
  }
}

class InstantRun implements BackendRun {
  #inFlight = 0;
  readonly #channel = new MessageChannel();
  readonly #waiting: (() => void)[] = [];
  constructor(
    readonly capacity: number,
    readonly settings: RunSettings,
    readonly listener: BackendListener,
  ) {
    this.#channel.port2.onmessage = () => this.#waiting.shift()?.();
  }
  room(): number {
    return this.capacity - this.#inFlight;
  }
  send(task: Task): void {
    this.#inFlight++;
    this.#waiting.push(() => this.#answer(task));
    this.#channel.port1.postMessage(0); // the answer comes as a worker's would: a later event
  }
  #answer(task: Task): void {
    this.#inFlight--;
    const body = task.body;
    let records: number;
    if (body.kind === "range") {
      const { offset, end, exact } = body as RangeBody;
      // The records that start in [offset, end): after the LF at or after offset - 1.
      const first = exact || offset === 0 ? offset : ends[lowerBound(ends, offset - 1)] + 1;
      const lastEnd = lowerBound(ends, end - 1);
      const stop = lastEnd < ends.length ? ends[lastEnd] + 1 : first;
      records = lowerBound(ends, stop) - lowerBound(ends, first);
      this.listener.count({
        id: task.id,
        records,
        newlines: records,
        cut: { start: first, end: stop, clean: true },
      });
    } else {
      const { start, end, offset = 0 } = body as ChunkBody;
      records = lowerBound(ends, offset + end - start) - lowerBound(ends, offset);
    }
    const encoded = this.settings.encode ? { count: records, bytes: bytesOf(records) } : undefined;
    this.listener.piece({
      id: task.id,
      last: true,
      results: [],
      ...(encoded ? {} : { json: jsonOf(records) }),
      failures: [],
      records,
      newlines: records,
      ...(encoded ? { encoded } : {}),
    });
  }
  update(): void {}
  end(): void {}
}

/** Runs the core over the file with the instant backend; resolves with records and seconds. */
async function simulate(
  reader: "workers" | "main",
  consumer: "iterator" | "batches" | "encoded",
): Promise<number> {
  const backend = new InstantBackend(16);
  const lease: Lease = {
    workers: 16,
    acquire: () => Promise.resolve(backend),
    release: () => Promise.resolve([]),
  };
  let last: Progress | undefined;
  const options = resolveRunOptions({
    reader,
    onProgress: (p) => last = p,
    ...(consumer === "encoded" ? { encode: "ndjson" as const } : {}),
  });
  const started = performance.now();
  const run = new RunIterator<unknown>(new Engine(file, options, lease));
  let n = 0;
  if (consumer === "iterator") { for await (const _ of run) n++; }
  else if (consumer === "batches") { for await (const b of run.batches()) n += b.length; }
  else {
    using out = await Deno.open("/dev/null", { write: true });
    for await (const bytes of run as RunIterator<Uint8Array>) {
      n += 1;
      await out.write(bytes);
    }
  }
  if (consumer !== "encoded" && n !== records) {
    throw new Error(`the simulation lost records: ${n} of ${records}`);
  }
  if (last?.records !== records || last.reruns !== 0) {
    throw new Error(`the simulation went wrong: ${last?.records} records, ${last?.reruns} reruns`);
  }
  return (performance.now() - started) / 1000;
}

/** One real worker's rate on the trivial classifier (records a second), from a 2-worker pool. */
async function perWorker(): Promise<number> {
  await using pool = await Pool.start(TRIVIAL, { workers: 2 });
  const started = performance.now();
  let n = 0;
  for await (const b of pool.classify(file).batches()) n += b.length;
  return n / ((performance.now() - started) / 1000) / 2;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const spread = (xs: number[]) => `[${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}]`;
const mb = (await Deno.stat(file)).size / 1e6;
const cases = [
  ["ranges (workers read)", "workers", "batches"],
  ["ranges (workers read)", "workers", "iterator"],
  ["ranges (workers read)", "workers", "encoded"],
  ["chunks (main reads)", "main", "batches"],
  ["chunks (main reads)", "main", "encoded"],
] as const;
const times = new Map<string, number[]>();
const worker: number[] = [];
for (let r = 0; r < reps; r++) {
  for (const [name, reader, consumer] of cases) {
    const key = `${name}|${consumer}`;
    times.set(key, [...(times.get(key) ?? []), await simulate(reader, consumer)]);
  }
  worker.push(await perWorker());
}
const one = median(worker);
console.log(
  `${file.replace(/.*\//, "")}: ${records.toLocaleString("en-US")} records, ${mb.toFixed(0)} MB; ` +
    `one worker, trivial classifier: ${Math.round(one).toLocaleString("en-US")} records/s ` +
    `${spread(worker.map((w) => w / 1e6))} M (median of ${reps})\n`,
);
console.log("| input | consumer | main thread's ceiling, records/s | MB/s | workers to reach it |");
console.log("|---|---|---:|---:|---:|");
for (const [name, , consumer] of cases) {
  const ts = times.get(`${name}|${consumer}`)!;
  const rate = records / median(ts);
  console.log(
    `| ${name} | ${consumer === "encoded" ? "encoded NDJSON (the command)" : consumer} | ` +
      `${Math.round(rate / 1e3).toLocaleString("en-US")} k ${
        spread(ts.map((t) => records / t / 1e6))
      } M | ${Math.round(mb / median(ts))} | ${(rate / one).toFixed(1)} |`,
  );
}
