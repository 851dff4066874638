// A Piscina task for the bench (Node): parses a batch of records with d3-dsv
// (or JSON.parse for NDJSON) and classifies each; the lexicon is built once
// per thread, when the thread loads this module.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { workerData } from "node:worker_threads";

const { peersDir, format, mode, lexiconPath } = workerData;
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

function classify(row) {
  if (mode !== "lexicon") return row.id;
  let score = 0;
  for (const w of row.text.split(" ")) score += lexicon.get(w) ?? 0;
  return { id: row.id, score: Math.round(score * 100) / 100 };
}

export default function ({ records, columns }) {
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
}
