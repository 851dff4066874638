// Piscina as a user of it would run the bench's workloads (Node): the main
// thread reads the file and cuts it into records, sends batches of 1,000 to
// the threads, at most four batches per thread in flight, and counts the
// results.
//
// usage: node piscina_runner.mjs <peers dir> <file> <csv|tsv|ndjson> <trivial|lexicon> <lexicon.tsv> <threads>
// After one warm-up run it prints a ready line; then for each line on stdin it
// times one run and prints {"records": n, "seconds": s}.
import { createRequire } from "node:module";
import { eachBatch, serve } from "./node_task.mjs";

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

async function runOnce() {
  let count = 0;
  const inflight = new Set();
  await eachBatch(path, format, 1000, async (batch) => {
    const task = pool.run(batch).then((results) => {
      count += results.length;
      inflight.delete(task);
    });
    inflight.add(task);
    if (inflight.size >= threads * 4) await Promise.race(inflight);
  });
  await Promise.all(inflight);
  return count;
}

await serve(runOnce);
await pool.destroy();
