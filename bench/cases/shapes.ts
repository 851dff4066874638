/**
 * Case 2: the trivial classifier (crunch's own cost per record) on every
 * shape of data, against the single-threaded loop, the machine's own
 * two-process ceiling, Piscina and Python's Pool, all in the same rounds.
 *
 * @module
 */

import { Pool } from "../../mod.ts";
import type { Format } from "../../lib/formats/format.ts";
import { type Context, exists, here, type Row, sizeMb } from "../context.ts";
import {
  ChildRunner,
  type Contender,
  inProcess,
  ratioOf,
  type RoundResult,
  rounds,
} from "../runner.ts";
import { extensionOf, type Shape, SHAPES, writeShape } from "../shapes.ts";
import { scale, spread } from "../stats.ts";

/** The trivial classifier: returns one field. */
export const TRIVIAL = here("./classifiers/trivial.ts");

/** The path of `shape`'s file, generated (seeded) on first use. */
export async function shapeFile(ctx: Context, shape: Shape): Promise<string> {
  const megabytes = ctx.quick ? 20 : 100;
  const dir = `${ctx.cache}shapes-${megabytes}mb`;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${shape.name}.${extensionOf(shape.format)}`;
  if (!(await exists(path))) {
    ctx.log(`generating ${path}`);
    await writeShape(shape, path, megabytes * 1e6);
  }
  return path;
}

/** The single-threaded loop in a process of its own. */
export function singleLoop(label: string, path: string, format: Format, module: URL) {
  return ChildRunner.start(label, Deno.execPath(), [
    "run",
    "-A",
    here("./single_loop.ts").pathname,
    path,
    format,
    module.href,
  ]);
}

/** Two single-threaded loops at once in two processes: what the machine gives two threads. */
export async function twoLoops(path: string, format: Format, module: URL): Promise<Contender> {
  const a = await singleLoop("a", path, format, module);
  const b = await singleLoop("b", path, format, module);
  return {
    label: "two single-threaded loops at once, in two processes",
    async run() {
      const [x, y] = await Promise.all([a.run(), b.run()]);
      return { records: x.records + y.records, seconds: Math.max(x.seconds, y.seconds) };
    },
    async close() {
      await a.close();
      await b.close();
    },
  };
}

/** Piscina (Node) running `mode` over `path`, where it is installed. */
export function piscina(
  ctx: Context,
  path: string,
  format: Format,
  mode: "trivial" | "lexicon",
  lexicon = "-",
): Promise<ChildRunner> | undefined {
  if (ctx.peers.piscina === undefined) return undefined;
  return ChildRunner.start(
    `Piscina 5.3.2, ${ctx.cores} threads, batches of 1,000 records, parsed by d3-dsv`,
    "node",
    [
      here("./peers/piscina_runner.mjs").pathname,
      ctx.peers.piscina,
      path,
      format,
      mode,
      lexicon,
      String(ctx.cores),
    ],
  );
}

/** Node's own single-threaded loop over the Piscina peer's work, where Piscina is installed. */
export function nodeSingle(
  ctx: Context,
  path: string,
  format: Format,
  mode: "trivial" | "lexicon",
  lexicon = "-",
): Promise<ChildRunner> | undefined {
  if (ctx.peers.piscina === undefined) return undefined;
  return ChildRunner.start(
    "Node single-threaded loop (Piscina's work on one thread)",
    "node",
    [here("./peers/node_single.mjs").pathname, ctx.peers.piscina, path, format, mode, lexicon],
  );
}

/** Python's Pool.imap_unordered as the seed writes it, where python3 is found. */
export function python(
  ctx: Context,
  path: string,
  format: Format,
  mode: "trivial" | "lexicon",
  chunksize: number,
  lexicon = "-",
): Promise<ChildRunner> | undefined {
  if (ctx.peers.python === undefined) return undefined;
  return ChildRunner.start(
    `Python Pool.imap_unordered, ${ctx.cores} processes, chunksize ${chunksize}`,
    ctx.peers.python,
    [
      here("./peers/seed_pattern.py").pathname,
      mode,
      lexicon,
      path,
      format,
      String(chunksize),
      String(ctx.cores),
    ],
  );
}

/** crunch's library iterator (batches()) and its CLI path (encoded in workers), on a started pool. */
export function crunchContenders(
  pool: Pool,
  path: string,
  devnull: Deno.FsFile,
  label: string,
): Contender[] {
  return [
    inProcess(`crunch ${label}, library, batches()`, async () => {
      let n = 0;
      for await (const batch of pool.classify(path).batches()) n += batch.length;
      return n;
    }),
    inProcess(`crunch ${label}, CLI path (encoded in workers, written to /dev/null)`, async () => {
      let results = 0;
      const run = pool.classify<Uint8Array>(path, {
        encode: "ndjson",
        onProgress: (p) => results = p.results,
      });
      for await (const bytes of run) await devnull.write(bytes);
      return results;
    }),
  ];
}

/** Adds the rows of one set of rounds: rates, and ratios against the baseline and the peers. */
export function report(
  ctx: Context,
  caseName: string,
  prefix: string,
  results: RoundResult[],
  mb: number,
): void {
  const [single, pair, ...rest] = results;
  // The two loops at once handle the records twice.
  const records = new Set(results.map((r) => r === pair ? r.records / 2 : r.records));
  const note = records.size > 1
    ? `records differ between contenders: ${
      results.map((r) => `${r.label} ${r.records}`).join("; ")
    }`
    : undefined;
  const rate = (r: RoundResult) => r.rate;
  const mbps = (r: RoundResult) => spread(r.seconds.map((s) => mb / s));
  const add = (row: Omit<Row, "case">) => ctx.rows.push({ ...row, case: caseName });
  add({
    variant: `${prefix}single-threaded loop`,
    rate: rate(single),
    mbPerSecond: mbps(single),
    note,
  });
  add({
    variant: `${prefix}${pair.label}`,
    rate: rate(pair),
    ratio: scale(ratioOf(pair, single), 0.5),
    ratioOf: "the machine's own efficiency (throughput / 2 x alone)",
  });
  const piscinaResult = rest.find((r) => r.label.startsWith("Piscina"));
  const nodeResult = rest.find((r) => r.label.startsWith("Node"));
  for (const r of rest) {
    add({
      variant: `${prefix}${r.label}`,
      rate: rate(r),
      mbPerSecond: mbps(r),
      ratio: ratioOf(r, single),
      ratioOf: "x single loop",
    });
    if (r === piscinaResult && nodeResult) {
      add({
        variant: `${prefix}  same, against Node's own single loop`,
        ratio: ratioOf(r, nodeResult),
        ratioOf: "x Node single loop",
      });
    }
    if (r.label.startsWith("crunch")) {
      add({
        variant: `${prefix}  same, against the two-process ceiling`,
        ratio: ratioOf(r, pair),
        ratioOf: "x two loops at once",
      });
      if (piscinaResult) {
        add({
          variant: `${prefix}  same, against Piscina`,
          ratio: ratioOf(r, piscinaResult),
          ratioOf: "x Piscina",
        });
      }
    }
  }
}

/** Case 2: the trivial classifier on every shape. */
export async function shapes(ctx: Context): Promise<void> {
  using devnull = await Deno.open("/dev/null", { write: true });
  for (const shape of SHAPES) {
    const path = await shapeFile(ctx, shape);
    const mb = await sizeMb(path);
    const contenders: Contender[] = [
      await singleLoop("single loop", path, shape.format, TRIVIAL),
      await twoLoops(path, shape.format, TRIVIAL),
    ];
    const pool = await Pool.start(TRIVIAL, { workers: ctx.cores });
    contenders.push(...crunchContenders(pool, path, devnull, `${ctx.cores} workers`));
    const peers = [
      piscina(ctx, path, shape.format, "trivial"),
      nodeSingle(ctx, path, shape.format, "trivial"),
      python(ctx, path, shape.format, "trivial", 1000),
    ];
    for (const peer of peers) if (peer) contenders.push(await peer);
    const results = await rounds(contenders, ctx.reps, (line) => ctx.log(`${shape.name}: ${line}`));
    report(ctx, `2 trivial, ${shape.name} (${shape.description})`, "", results, mb);
    for (const c of contenders) await c.close?.();
    await pool.close();
  }
  if (ctx.peers.piscina === undefined) {
    ctx.rows.push({
      case: "2 trivial",
      variant: "Piscina",
      note: "skipped: node or Piscina not found",
    });
  }
  if (ctx.peers.python === undefined) {
    ctx.rows.push({ case: "2 trivial", variant: "Python", note: "skipped: python3 not found" });
  }
}
