/**
 * CSV parser throughput in the worker pattern: ~1 MiB record-aligned chunks,
 * column names known, rows built as objects and dropped after each chunk.
 * crunch's own parser against d3-dsv and uDSV, measured in the same run,
 * best of 5 rounds, on the example data (`deno task example` makes it).
 *
 * Usage: `deno task bench:parsers [file.csv]`
 *
 * @module
 */

import { csvParseRows } from "d3-dsv";
import { inferSchema, initParser } from "udsv";
import { FileSource } from "../lib/byte_source.ts";
import { ChunkReader } from "../lib/chunk_reader.ts";
import { parseDelimited, rowBuilder } from "../workers/csv.ts";

const path = Deno.args[0] ?? new URL("../.cache/reviews.csv", import.meta.url).pathname;
const reader = new ChunkReader(await FileSource.open(path), "csv", 1 << 20, 1 << 26);
const header = new TextDecoder().decode((await reader.header())!.bytes).trim();
const columns = header.split(",");
const texts: string[] = [];
for (let c = await reader.next(); c; c = await reader.next()) {
  texts.push(new TextDecoder().decode(new Uint8Array(c.buffer, c.start, c.end - c.start)));
}
const megabytes = texts.reduce((n, t) => n + t.length, 0) / 1e6;

const build = rowBuilder(columns);
const candidates: Record<string, (text: string) => number> = {
  "crunch (workers/csv.ts)": (text) => parseDelimited(text, ",", columns, build).rows.length,
  "d3-dsv csvParseRows + objects": (text) => {
    const rows = csvParseRows(text);
    let n = 0;
    for (const r of rows) if (r.length === columns.length && build(r)) n++;
    return n;
  },
  "udsv typedObjs": (text) => {
    const schema = inferSchema(header + "\n" + text.slice(0, 4096), { trim: false });
    for (const col of schema.cols) col.type = "s";
    return initParser(schema).stringObjs(header + "\n" + text).length;
  },
};

const results: { parser: string; mbPerS: number; records: number }[] = [];
for (const [name, parse] of Object.entries(candidates)) {
  let best = Infinity;
  let records = 0;
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    records = 0;
    for (const text of texts) records += parse(text);
    best = Math.min(best, performance.now() - started);
  }
  results.push({ parser: name, mbPerS: megabytes / (best / 1000), records });
}
console.log(`| parser | MB/s (best of 5) | records |\n|---|---|---|`);
for (const r of results) console.log(`| ${r.parser} | ${r.mbPerS.toFixed(0)} | ${r.records} |`);
