/**
 * crunch's benchmarks: every figure is a ratio between two things measured in
 * the same run, each the best of several repetitions. Where a ratio is taken
 * against the single-threaded loop, the loop's runs and crunch's take turns,
 * so that both meet the same noise. Data sets are generated once (seeded)
 * into .cache/bench/.
 *
 * Usage: `deno task bench [--quick]` (prints a Markdown table, writes bench/results.json)
 *
 * @module
 */

import { classify, Pool, SharedTable } from "../mod.ts";
import type { Format } from "../lib/protocol.ts";
import { eachChunkRows } from "./chunk_rows.ts";
import { generateReviews } from "../examples/generate.ts";
import * as lexicon from "../examples/lexicon.ts";

const quick = Deno.args.includes("--quick");
const only = Deno.args.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const REPS = quick ? 2 : 5;
const cores = navigator.hardwareConcurrency;
const cache = new URL("../.cache/bench/", import.meta.url).pathname;
const here = (path: string) => new URL(path, import.meta.url);
const LEXICON = here("../examples/lexicon.ts");
const SHARED_LEXICON = here("../examples/shared_lexicon.ts");
const TRIVIAL = here("./classifiers/trivial.ts");

interface Row {
  case: string;
  variant: string;
  recordsPerSecond?: number;
  mbPerSecond?: number;
  ratio?: number;
  ratioOf?: string;
  value?: number;
  unit?: string;
}
const rows: Row[] = [];

function log(message: string): void {
  console.error(`bench: ${message}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function dataset(name: string, records: number, seed: number): Promise<string> {
  const path = `${cache}${name}`;
  if (!(await exists(path))) {
    log(`generating ${records} records into ${path}`);
    // Written beside and renamed when complete, so an interrupted run never leaves a short file.
    await generateReviews(`${path}.partial`, records, seed);
    await Deno.rename(`${path}.partial`, path);
  }
  return path;
}

async function ndjsonOf(csvPath: string): Promise<string> {
  const path = csvPath.replace(/\.csv$/, ".ndjson");
  if (await exists(path)) return path;
  log(`writing ${path}`);
  {
    using out = await Deno.open(`${path}.partial`, { write: true, create: true, truncate: true });
    const encoder = new TextEncoder();
    await eachChunkRows(csvPath, "csv", async (batch) => {
      await out.write(encoder.encode(batch.map((r) => JSON.stringify(r)).join("\n") + "\n"));
    });
  }
  await Deno.rename(`${path}.partial`, path);
  return path;
}

/**
 * The plain single-threaded loop (bench/single_loop.ts) in a fresh process of
 * its own, warmed up once, then timed one run at a time on request.
 */
class SingleLoop {
  best = Infinity;
  records = 0;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines(child.stdout);
  }

  static async start(path: string, format: Format, module: URL): Promise<SingleLoop> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", here("./single_loop.ts").pathname, path, format, module.href],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const loop = new SingleLoop(child);
    await loop.#lines.next(); // ready: init and the warm-up run are done
    return loop;
  }

  /** Times one more run and returns its seconds; `record` false keeps it out of the best. */
  async run(record = true): Promise<number> {
    await this.#writer.write(new TextEncoder().encode("\n"));
    const { value } = await this.#lines.next();
    const { records, seconds } = JSON.parse(value);
    this.records = records;
    if (record) this.best = Math.min(this.best, seconds);
    return seconds;
  }

  get rate(): number {
    return this.records / this.best;
  }

  async close(): Promise<void> {
    await this.#writer.close();
    await this.#child.status;
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    rest += text;
    for (let nl = rest.indexOf("\n"); nl !== -1; nl = rest.indexOf("\n")) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
}

interface Variant {
  label: string;
  /** One run; resolves with the records it classified. */
  run: () => Promise<number>;
}

/**
 * Runs each variant once to warm up, then REPS rounds of: one single-loop run,
 * one run of each variant. Taking turns puts both sides of every ratio under
 * the same machine noise. Returns each variant's best.
 */
async function rounds(
  single: SingleLoop,
  variants: Variant[],
): Promise<{ records: number; seconds: number }[]> {
  const bests = variants.map(() => ({ records: 0, seconds: Infinity }));
  for (const v of variants) await v.run();
  for (let r = 0; r < REPS; r++) {
    await single.run();
    for (const [k, v] of variants.entries()) {
      const started = performance.now();
      bests[k].records = await v.run();
      bests[k].seconds = Math.min(bests[k].seconds, (performance.now() - started) / 1000);
    }
  }
  for (const [k, v] of variants.entries()) {
    log(`${v.label}: ${bests[k].records} records, best ${bests[k].seconds.toFixed(3)} s`);
  }
  log(`single loop so far: ${single.records} records, best ${single.best.toFixed(3)} s`);
  return bests;
}

/** Best of REPS timed runs, after one untimed run that lets the JIT warm up (unless `cold`). */
async function best(
  label: string,
  run: () => Promise<number>,
  cold = false,
): Promise<{ records: number; seconds: number }> {
  let seconds = Infinity;
  let records = 0;
  if (!cold) await run();
  for (let i = 0; i < REPS; i++) {
    const started = performance.now();
    records = await run();
    seconds = Math.min(seconds, (performance.now() - started) / 1000);
  }
  log(`${label}: ${records} records, best ${seconds.toFixed(3)} s`);
  return { records, seconds };
}

async function drain(iterator: AsyncIterable<unknown>, sink?: Deno.FsFile): Promise<number> {
  let n = 0;
  for await (const item of iterator) {
    if (sink) {
      await sink.write(item as Uint8Array);
    } else n++;
  }
  return n;
}

function workerCounts(): number[] {
  return [...new Set([1, 2, cores])];
}

const sizeMb = async (path: string) => (await Deno.stat(path)).size / 1e6;

// 1. The seed's workload -----------------------------------------------------
async function seedWorkload(path: string): Promise<void> {
  const mb = await sizeMb(path);
  using devnull = await Deno.open("/dev/null", { write: true });
  for (const [name, module] of [["Map", LEXICON], ["SharedTable", SHARED_LEXICON]] as const) {
    const single = await SingleLoop.start(path, "csv", module);
    const measured: Row[] = [];
    for (const workers of workerCounts()) {
      const pool = await Pool.start(module, { workers });
      const variants = ["library iterator", "CLI path (encoded in workers)"].map((how) => ({
        label: `seed (${name} lexicon) ${how} ${workers}w`,
        run: async () => {
          const encoded = how.startsWith("CLI");
          const it = pool.classify(path, encoded ? { encode: "ndjson" } : {});
          const n = await drain(it, encoded ? devnull : undefined);
          return encoded ? single.records : n;
        },
      }));
      const bests = await rounds(single, variants);
      for (const [k, r] of bests.entries()) {
        measured.push({
          case: "1 seed workload",
          variant: `${name} lexicon: crunch ${workers} worker${workers > 1 ? "s" : ""}, ${
            variants[k].label.includes("CLI") ? "CLI path (encoded in workers)" : "library iterator"
          }`,
          recordsPerSecond: r.records / r.seconds,
          mbPerSecond: mb / r.seconds,
          ratio: r.records / r.seconds / workers, // divided by the baseline below
          ratioOf: "parallel efficiency (speed-up / workers)",
        });
      }
      await pool.close();
    }
    const machine = await ceiling(single, path, module);
    await single.close();
    rows.push({
      case: "1 seed workload",
      variant: `${name} lexicon: single-threaded loop`,
      recordsPerSecond: single.rate,
      mbPerSecond: mb / single.best,
    });
    rows.push({
      case: "1 seed workload",
      variant: `${name} lexicon: two single-threaded loops at once, in two processes`,
      ratio: machine,
      ratioOf: "the machine's own efficiency (best alone / best slower of two at once)",
    });
    for (const row of measured) rows.push({ ...row, ratio: row.ratio! / single.rate });
  }
}

/**
 * What the machine itself gives two threads: one single loop alone against two
 * running at once in separate processes (nothing shared): the best time alone
 * over the best time of the slower of the two, over REPS rounds.
 */
async function ceiling(single: SingleLoop, path: string, module: URL): Promise<number> {
  const other = await SingleLoop.start(path, "csv", module);
  let alone = Infinity;
  let pair = Infinity;
  for (let r = 0; r < REPS; r++) {
    alone = Math.min(alone, await single.run(false));
    const both = await Promise.all([single.run(false), other.run(false)]);
    pair = Math.min(pair, Math.max(...both));
  }
  await other.close();
  log(`single loop alone best ${alone.toFixed(3)} s, two at once best ${pair.toFixed(3)} s`);
  return alone / pair;
}

// 2. Trivial classifier: crunch's own cost --------------------------------------
async function trivialCost(csvPath: string, ndjsonPath: string): Promise<void> {
  for (const [format, path] of [["csv", csvPath], ["ndjson", ndjsonPath]] as const) {
    const mb = await sizeMb(path);
    const single = await SingleLoop.start(path, format, TRIVIAL);
    const measured: Row[] = [];
    for (const workers of workerCounts()) {
      const pool = await Pool.start(TRIVIAL, { workers });
      // The reader that is not the default for this many workers.
      const other = workers > 1 ? "main" : "workers";
      using devnull = await Deno.open("/dev/null", { write: true });
      const variants = [{
        label: `trivial ${format} ${workers}w, one result at a time`,
        run: () => drain(pool.classify(path)),
      }, {
        label: `trivial ${format} ${workers}w, batches()`,
        run: async () => {
          let n = 0;
          for await (const batch of pool.classify(path).batches()) n += batch.length;
          return n;
        },
      }, {
        label: `trivial ${format} ${workers}w, batches(), reader: "${other}"`,
        run: async () => {
          let n = 0;
          for await (const batch of pool.classify(path, { reader: other }).batches()) {
            n += batch.length;
          }
          return n;
        },
      }, {
        label: `trivial ${format} ${workers}w, CLI path (encoded in workers)`,
        run: async () => {
          await drain(pool.classify(path, { encode: "ndjson" }), devnull);
          return single.records;
        },
      }];
      const bests = await rounds(single, variants);
      for (const [k, r] of bests.entries()) {
        measured.push({
          case: `2 trivial ${format}`,
          variant: `crunch ${workers} worker${workers > 1 ? "s" : ""}, ${
            [
              "one result at a time",
              "batches()",
              `batches(), reader: "${other}"`,
              "CLI path (encoded in workers)",
            ][k]
          }`,
          recordsPerSecond: r.records / r.seconds,
          mbPerSecond: mb / r.seconds,
          ratio: r.records / r.seconds,
          ratioOf: "x single loop",
        });
      }
      await pool.close();
    }
    await single.close();
    rows.push({
      case: `2 trivial ${format}`,
      variant: "single-threaded parse-only loop",
      recordsPerSecond: single.rate,
      mbPerSecond: mb / single.best,
    });
    for (const row of measured) rows.push({ ...row, ratio: row.ratio! / single.rate });
  }
}

// 3. Iterable input: batching against one message per record ---------------------
async function iterableInput(csvPath: string): Promise<void> {
  const all: unknown[] = [];
  await eachChunkRows(csvPath, "csv", (batch) => {
    for (const row of batch) all.push(row);
  });
  const rowsInMemory = all.slice(0, quick ? 200_000 : 1_000_000);
  const pool = await Pool.start(TRIVIAL, { workers: cores });
  const batched = await best("iterable batched", () => drain(pool.classify(rowsInMemory)));
  const perRecordRows = rowsInMemory.slice(0, 100_000);
  const single = await best(
    "iterable one message per record",
    () => drain(pool.classify(perRecordRows, { batchSize: 1 })),
  );
  await pool.close();
  const batchedRate = batched.records / batched.seconds;
  rows.push({
    case: "3 iterable rows",
    variant: `crunch ${cores} workers, batches of 1000`,
    recordsPerSecond: batchedRate,
  });
  rows.push({
    case: "3 iterable rows",
    variant: `crunch ${cores} workers, one message per record (100k rows)`,
    recordsPerSecond: single.records / single.seconds,
    ratio: batchedRate / (single.records / single.seconds),
    ratioOf: "batched is this many times faster",
  });
}

// 4. Memory --------------------------------------------------------------------
async function memory(small: string, large: string): Promise<void> {
  const peaks: number[] = [];
  for (const path of [small, large]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", here("./memory_child.ts").pathname, path, String(cores)],
      stderr: "inherit",
    }).output();
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    log(`memory ${path}: ${JSON.stringify(result)}`);
    peaks.push(result.peakRssMb);
    rows.push({
      case: "4 memory",
      variant: `peak RSS, ${(await sizeMb(path)).toFixed(0)} MB input, ${cores} workers`,
      value: result.peakRssMb,
      unit: "MB",
    });
  }
  rows.push({
    case: "4 memory",
    variant: "peak for the large input / peak for the small",
    ratio: peaks[1] / peaks[0],
    ratioOf: "ratio",
  });
}

// 5. Start-up ------------------------------------------------------------------
async function startup(): Promise<void> {
  const r = await best(`start-up of ${cores} workers`, async () => {
    const pool = await Pool.start(here("./classifiers/empty.ts"), { workers: cores });
    await pool.close();
    return cores;
  }, true);
  rows.push({
    case: "5 start-up",
    variant: `Pool.start with ${cores} workers, empty init (includes close)`,
    value: r.seconds * 1000,
    unit: "ms",
  });
}

// 6. The seed's Python pattern ----------------------------------------------------
async function python(path: string): Promise<void> {
  const hasPython = await new Deno.Command("python3", {
    args: ["--version"],
    stdout: "null",
    stderr: "null",
  })
    .output().then((o) => o.success, () => false);
  if (!hasPython) {
    log("python3 not found: skipping the Python comparison");
    rows.push({ case: "6 vs Python", variant: "skipped: python3 not found" });
    return;
  }
  const lexiconTsv = `${cache}lexicon.tsv`;
  if (!(await exists(lexiconTsv))) {
    const map = lexicon.buildLexicon({});
    await Deno.writeTextFile(lexiconTsv, [...map].map(([w, v]) => `${w}\t${v}`).join("\n") + "\n");
  }
  const crunchRun = await best(
    "crunch one-shot classify() incl. start and init",
    () => drain(classify(LEXICON, path, { workers: cores })),
  );
  const crunchRate = crunchRun.records / crunchRun.seconds;
  const sharedRun = await best(
    "crunch one-shot classify() with the SharedTable lexicon, incl. start and prepare",
    () => drain(classify(SHARED_LEXICON, path, { workers: cores })),
    true,
  );
  const sharedRate = sharedRun.records / sharedRun.seconds;
  rows.push({
    case: "6 vs Python",
    variant: `crunch classify(), ${cores} workers, including start-up and init`,
    recordsPerSecond: crunchRate,
  });
  for (const chunksize of [1, 1000]) {
    const repeats = chunksize === 1 ? 1 : REPS;
    const out = await new Deno.Command("python3", {
      args: [
        here("./seed_pattern.py").pathname,
        lexiconTsv,
        path,
        String(chunksize),
        String(cores),
        String(repeats),
      ],
      stderr: "inherit",
    }).output();
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    const rate = result.records / result.best_seconds;
    log(`python chunksize ${chunksize}: ${JSON.stringify(result)}`);
    rows.push({
      case: "6 vs Python",
      variant: `Python Pool.imap_unordered, chunksize ${chunksize}${
        chunksize === 1 ? " (the default)" : ""
      }`,
      recordsPerSecond: rate,
      ratio: crunchRate / rate,
      ratioOf: "crunch (Map lexicon) is this many times faster",
    });
    rows.push({
      case: "6 vs Python",
      variant: `  same, against crunch with the SharedTable lexicon (${
        Math.round(sharedRate).toLocaleString("en-US")
      } rec/s)`,
      ratio: sharedRate / rate,
      ratioOf: "crunch (SharedTable lexicon) is this many times faster",
    });
  }
}

// 7. A shared table against a Map per worker -------------------------------------
async function sharedTable(path: string): Promise<void> {
  // Lookup speed in one thread: the same words, a Map against the SharedTable.
  const map = lexicon.buildLexicon({});
  const table = SharedTable.from(map);
  const texts: string[] = [];
  await eachChunkRows(path, "csv", (batch) => {
    for (const row of batch) if (texts.length < 300_000) texts.push((row as { text: string }).text);
  });
  let sink = 0;
  const mapRun = await best("lookups: Map.get on split words", () => {
    let n = 0;
    for (const text of texts) {
      for (const w of text.split(" ")) {
        sink += map.get(w) ?? 0;
        n++;
      }
    }
    return Promise.resolve(n);
  });
  const tableRun = await best("lookups: SharedTable.getRange on the text", () => {
    let n = 0;
    for (const text of texts) {
      let start = 0;
      for (let i = 0; i <= text.length; i++) {
        if (i === text.length || text.charCodeAt(i) === 32) {
          sink += (table.getRange(text, start, i) as number | undefined) ?? 0;
          start = i + 1;
          n++;
        }
      }
    }
    return Promise.resolve(n);
  });
  const tableGet = await best("lookups: SharedTable.get on split words", () => {
    let n = 0;
    for (const text of texts) {
      for (const w of text.split(" ")) {
        sink += (table.get(w) as number | undefined) ?? 0;
        n++;
      }
    }
    return Promise.resolve(n);
  });
  if (sink === 42) log("");
  const mapRate = mapRun.records / mapRun.seconds;
  rows.push({
    case: "7 shared table",
    variant: "lookups/s, Map.get (split words)",
    recordsPerSecond: mapRate,
  });
  for (
    const [variant, r] of [["SharedTable.get (split words)", tableGet], [
      "SharedTable.getRange (no split)",
      tableRun,
    ]] as const
  ) {
    rows.push({
      case: "7 shared table",
      variant: `lookups/s, ${variant}`,
      recordsPerSecond: r.records / r.seconds,
      ratio: (r.records / r.seconds) / mapRate,
      ratioOf: "x Map",
    });
  }
  // Whole-process memory and start-up with a big table, per-worker Map against one shared table.
  const entries = quick ? 500_000 : 3_000_000;
  const results: Record<string, { startup: number; peakRssMb: number }> = {};
  for (const mode of ["map", "shared"]) {
    for (const workers of [1, 2, 8]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          here("./shared_child.ts").pathname,
          mode,
          String(workers),
          String(entries),
          path,
        ],
        stderr: "inherit",
      }).output();
      const result = JSON.parse(new TextDecoder().decode(out.stdout));
      log(`${mode} ${workers}w: ${JSON.stringify(result)}`);
      results[`${mode}${workers}`] = result;
      rows.push({
        case: "7 shared table",
        variant: `${
          mode === "map" ? "Map built in init per worker" : "SharedTable built in prepare"
        }, ${entries} entries, ${workers} workers: peak RSS`,
        value: result.peakRssMb,
        unit: "MB",
      });
      rows.push({
        case: "7 shared table",
        variant: `${
          mode === "map" ? "Map built in init per worker" : "SharedTable built in prepare"
        }, ${entries} entries, ${workers} workers: start-up`,
        value: result.startup * 1000,
        unit: "ms",
      });
    }
  }
  rows.push({
    case: "7 shared table",
    variant: "SharedTable: peak RSS with 8 workers / with 1",
    ratio: results.shared8.peakRssMb / results.shared1.peakRssMb,
    ratioOf: "ratio (target <= 1.2)",
  });
  rows.push({
    case: "7 shared table",
    variant: "Map per worker: peak RSS with 8 workers / with 1",
    ratio: results.map8.peakRssMb / results.map1.peakRssMb,
    ratioOf: "ratio",
  });
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined
    ? ""
    : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

await Deno.mkdir(cache, { recursive: true });
const main = await dataset("reviews-1m.csv", 1_000_000, 11);
const main_ndjson = await ndjsonOf(main);
const small = await dataset("memory-100mb.csv", 1_150_000, 12);
const large = quick || only ? small : await dataset("memory-1gb.csv", 11_500_000, 13);

const want = (n: string) => only === undefined || only.split(",").includes(n);
if (want("1")) await seedWorkload(main);
if (want("2")) await trivialCost(main, main_ndjson);
if (want("3")) await iterableInput(main);
if (want("4")) await memory(small, large);
if (want("5")) await startup();
if (want("6")) await python(main);
if (want("7")) await sharedTable(main);

const cpu =
  (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ??
    "unknown";
const machine = `${cores} cores (${cpu}), Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`;
console.log(`Machine: ${machine}; best of ${REPS}${quick ? " (quick)" : ""}.\n`);
console.log("| case | variant | records/s | MB/s | ratio | ratio of | value |");
console.log("|---|---|---:|---:|---:|---|---:|");
for (const r of rows) {
  const value = r.value === undefined ? "" : `${fmt(r.value)} ${r.unit}`;
  console.log(
    `| ${r.case} | ${r.variant} | ${fmt(r.recordsPerSecond)} | ${fmt(r.mbPerSecond)} | ${
      fmt(r.ratio, 2)
    } | ${r.ratioOf ?? ""} | ${value} |`,
  );
}
// Only a full run replaces the recorded figures.
if (only === undefined) {
  await Deno.writeTextFile(
    here("./results.json"),
    JSON.stringify(
      { date: new Date().toISOString(), machine, repetitions: REPS, quick, rows },
      null,
      2,
    ) + "\n",
  );
}
