// The work of one batch for the Node peers (Piscina's threads and Node's own
// single loop): parse a batch of records with d3-dsv (or JSON.parse for
// NDJSON) and classify each. The lexicon is built once per thread.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

/** The batch function for these settings. */
export async function makeTask({ peersDir, format, mode, lexiconPath }) {
  const require = createRequire(`${peersDir}/`);
  const d3 = await import(pathToFileURL(require.resolve("d3-dsv")).href);
  const parseRows = format === "tsv" ? d3.tsvParseRows : d3.csvParseRows;
  const lexicon = new Map();
  if (mode === "lexicon") {
    for (const line of readFileSync(lexiconPath, "utf8").split("\n")) {
      const tab = line.indexOf("\t");
      if (tab > 0) lexicon.set(line.slice(0, tab), Number(line.slice(tab + 1)));
    }
  }
  const classify = (row) => {
    if (mode !== "lexicon") return row.id;
    let score = 0;
    for (const w of row.text.split(" ")) score += lexicon.get(w) ?? 0;
    return { id: row.id, score: Math.round(score * 100) / 100 };
  };
  return ({ records, columns }) => {
    const results = [];
    if (format === "ndjson") {
      for (const line of records) results.push(classify(JSON.parse(line)));
      return results;
    }
    for (const fields of parseRows(records.join("\n"))) {
      const row = {};
      for (let i = 0; i < columns.length; i++) row[columns[i]] = fields[i];
      results.push(classify(row));
    }
    return results;
  };
}

function quotes(line) {
  let n = 0;
  for (let i = line.indexOf('"'); i !== -1; i = line.indexOf('"', i + 1)) n++;
  return n;
}

/**
 * Reads `path` on this thread and cuts it into batches of `size` records
 * (LF-separated, keeping quoted line breaks inside their record), calling
 * `onBatch({ records, columns })` for each; awaits what it returns.
 */
export async function eachBatch(path, format, size, onBatch) {
  const { createReadStream } = await import("node:fs");
  const delimiter = format === "tsv" ? "\t" : ",";
  const stream = createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 20 });
  let rest = "";
  let columns;
  let record = "";
  let open = false;
  let batch = [];
  const take = async (line) => {
    if (format === "ndjson") {
      if (line.trim()) batch.push(line);
    } else {
      record = open ? `${record}\n${line}` : line;
      if (quotes(line) % 2 === 1) open = !open;
      if (open) return;
      if (columns === undefined) columns = record.replace(/\r$/, "").split(delimiter);
      else if (record) batch.push(record);
    }
    if (batch.length === size) {
      const full = batch;
      batch = [];
      await onBatch({ records: full, columns });
    }
  };
  for await (const piece of stream) {
    const text = rest + piece;
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      await take(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest) await take(rest);
  if (batch.length) await onBatch({ records: batch, columns });
}

/** The runner protocol: one warm-up, "ready", then one timed run per line on stdin. */
export async function serve(runOnce) {
  await runOnce();
  console.log(JSON.stringify({ ready: true }));
  for await (const _ of createInterface({ input: process.stdin })) {
    const started = performance.now();
    const records = await runOnce();
    const seconds = (performance.now() - started) / 1000;
    console.log(JSON.stringify({ records, seconds }));
  }
}
