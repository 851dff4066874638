// Piscina as a user of it would run the bench's workloads (Node): the main
// thread reads the file and cuts it into records (LF-separated, keeping
// quoted line breaks inside their record), sends batches of 1,000 to the
// threads, at most four batches per thread in flight, and counts the results.
//
// usage: node piscina_runner.mjs <peers dir> <file> <csv|tsv|ndjson> <trivial|lexicon> <lexicon.tsv> <threads>
// After one warm-up run it prints a ready line; then for each line on stdin it
// times one run and prints {"records": n, "seconds": s}.
import { createReadStream } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const [peersDir, path, format, mode, lexiconPath, threadsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const require = createRequire(`${peersDir}/`);
const { Piscina } = require("piscina");
const pool = new Piscina({
  filename: new URL("./piscina_task.mjs", import.meta.url).href,
  minThreads: threads,
  maxThreads: threads,
  workerData: { peersDir, format, mode, lexiconPath },
});
const BATCH = 1000;
const delimiter = format === "tsv" ? "\t" : ",";

function quotes(line) {
  let n = 0;
  for (let i = line.indexOf('"'); i !== -1; i = line.indexOf('"', i + 1)) n++;
  return n;
}

async function runOnce() {
  const stream = createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 20 });
  let rest = "";
  let columns;
  let record = "";
  let open = false;
  let batch = [];
  let count = 0;
  const inflight = new Set();
  const submit = async () => {
    const task = pool.run({ records: batch, columns }).then((results) => {
      count += results.length;
      inflight.delete(task);
    });
    inflight.add(task);
    batch = [];
    if (inflight.size >= threads * 4) await Promise.race(inflight);
  };
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
    if (batch.length === BATCH) await submit();
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
  if (batch.length) await submit();
  await Promise.all(inflight);
  return count;
}

await runOnce();
console.log(JSON.stringify({ ready: true }));
for await (const _ of createInterface({ input: process.stdin })) {
  const started = performance.now();
  const records = await runOnce();
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ records, seconds }));
}
await pool.destroy();
