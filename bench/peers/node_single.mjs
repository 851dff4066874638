// Node's own single-threaded loop over the same work as the Piscina peer (the
// same reading, the same d3-dsv parse, the same classify, on one thread), so
// that Piscina's speed-up can be read against its own runtime.
//
// usage: node node_single.mjs <peers dir> <file> <csv|tsv|ndjson> <trivial|lexicon> <lexicon.tsv>
// The ChildRunner protocol: a ready line, then one timed run per line on stdin.
import { eachBatch, makeTask, serve } from "./node_task.mjs";

const [peersDir, path, format, mode, lexiconPath] = process.argv.slice(2);
const task = await makeTask({ peersDir, format, mode, lexiconPath });

async function runOnce() {
  let count = 0;
  await eachBatch(path, format, 1000, (batch) => {
    count += task(batch).length;
  });
  return count;
}

await serve(runOnce);
