/** Ending a run early: break, return(), abort. The process must be able to exit at once. */
import assert from "node:assert/strict";
import { classify } from "../mod.ts";
import { deadline, fixture, numberedCsv, runDeno, tempFile } from "./helpers.ts";

const mod = new URL("../mod.ts", import.meta.url).href;

/** Writes a script that runs `body` with `path` bound to a CSV file of slow records. */
async function script(body: string): Promise<string> {
  const data = await tempFile("data.csv", numberedCsv(100_000));
  return await tempFile(
    "script.ts",
    `import { classify } from ${JSON.stringify(mod)};
const slow = ${JSON.stringify(fixture("slow.ts").href)};
const path = ${JSON.stringify(data)};
${body}
console.log("end of script");
`,
  );
}

async function runScript(body: string) {
  const result = await runDeno(["run", "-A", await script(body)]);
  assert.equal(result.stderr, "", "nothing on stderr: no unhandled rejection, no worker error");
  assert.equal(result.code, 0);
  assert.match(result.stdout, /end of script/);
  // Each record takes 2 ms of CPU: finishing the file would take over 100 s.
  assert.ok(result.seconds < 10, `exited after ${result.seconds.toFixed(1)} s`);
  return result;
}

Deno.test("breaking out of for await stops every worker; the process exits", async () => {
  const { stdout } = await runScript(`
let n = 0;
for await (const _ of classify(slow, path, { workers: 2, spec: { ms: 2 } })) {
  if (++n === 3) break;
}
console.log("got", n);`);
  assert.match(stdout, /got 3/);
});

Deno.test("return() on the iterator stops every worker", async () => {
  await runScript(`
const it = classify(slow, path, { workers: 2, spec: { ms: 2 } });
await it.next();
const r = await it.return();
console.log("done", r.done, JSON.stringify(await it.next()));`);
});

Deno.test("aborting the signal rejects the pending next() with the reason and stops the workers", async () => {
  const { stdout } = await runScript(`
const controller = new AbortController();
setTimeout(() => controller.abort(new Error("user gave up")), 300);
try {
  for await (const _ of classify(slow, path, { workers: 2, spec: { ms: 2 }, signal: controller.signal })) {}
} catch (error) {
  console.log("caught", error.message);
}`);
  assert.match(stdout, /caught user gave up/);
});

Deno.test("an already aborted signal fails at the first next()", async () => {
  const controller = new AbortController();
  controller.abort(new Error("too late"));
  const it = classify(fixture("identity.ts"), [1, 2], { signal: controller.signal });
  await assert.rejects(it.next(), /too late/);
  assert.deepEqual(await it.next(), { done: true, value: undefined });
});

Deno.test("reading pauses while the consumer is not pulling (bounded memory)", async () => {
  const chunkBytes = 16 * 1024;
  let pulled = 0;
  const line = new TextEncoder().encode("1,some text for this record\n");
  let headerSent = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(new TextEncoder().encode("id,text\n"));
      }
      const block = new Uint8Array(line.length * 1000);
      for (let i = 0; i < 1000; i++) block.set(line, i * line.length);
      pulled += block.length;
      controller.enqueue(block);
    },
  }, { highWaterMark: 0 });
  const it = classify(fixture("identity.ts"), endless, { format: "csv", workers: 2, chunkBytes });
  for (let i = 0; i < 10; i++) await it.next();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const afterPause = pulled;
  // Two chunks per worker in flight, twice that finished and held, plus one block of read-ahead.
  assert.ok(afterPause < 2 * 2 * 2 * chunkBytes + 2 * 28_000, `read ${afterPause} bytes`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(pulled, afterPause, "nothing read while the consumer is idle");
  await it.return!();
});

Deno.test("after abort(), the very next next() rejects: no buffered results come first", async () => {
  const path = await tempFile("abort.csv", numberedCsv(50_000));
  const controller = new AbortController();
  const it = classify(fixture("identity.ts"), path, {
    workers: 2,
    chunkBytes: 64 << 10,
    signal: controller.signal,
  });
  for (let k = 0; k < 10; k++) assert.equal((await it.next()).done, false);
  const reason = new Error("stop now");
  controller.abort(reason);
  await assert.rejects(() => it.next(), (e) => e === reason);
  assert.equal((await it.next()).done, true);
});

Deno.test("aborting while the input's head is still being read ends the run at once", async () => {
  const dir = await Deno.makeTempDir();
  const fifo = `${dir}/quiet.csv`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.equal(made.code, 0);
  const controller = new AbortController();
  const results = classify(fixture("identity.ts"), fifo, { signal: controller.signal });
  const first = results.next();
  // Opening the FIFO for writing returns once the run has opened it to read: it now waits for
  // the header, which never comes.
  const writer = await Deno.open(fifo, { write: true });
  try {
    controller.abort(new Error("stopped by the test"));
    await assert.rejects(deadline(first, 10_000), /stopped by the test/);
  } finally {
    writer.close();
  }
});
