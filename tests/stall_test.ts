/**
 * The stall notice: a record whose classify never returns is named (worker,
 * file, index, line) once no record of its task has finished for `stall`
 * ms, the results finished before it go out on time, and the notice clears
 * when the task goes on.
 */
import assert from "node:assert/strict";
import { classify, type Progress } from "../mod.ts";
import { deadline, numberedCsv, runCrunch, tempFile } from "./helpers.ts";

async function plugin(body: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/plugin.ts`, body);
  return `${dir}/plugin.ts`;
}

const never = `export async function classify(row: { id: string }) {
  if (row.id === "1500") await new Promise(() => {}); // never settles
  return row.id;
}
`;

for (const isolation of ["thread", "process"] as const) {
  Deno.test(`${isolation}: a promise that never settles is named, and what came before it goes out`, async () => {
    const input = await tempFile("data.csv", numberedCsv(3000));
    const controller = new AbortController();
    let stalled: Progress["stalled"];
    const seen = new Set<number>();
    const noticed = Promise.withResolvers<void>();
    const run = (async () => {
      for await (
        const r of classify(await plugin(never), input, {
          workers: 1,
          isolation,
          tagged: true,
          stall: 500,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.stalled && !stalled) {
              stalled = p.stalled;
              noticed.resolve();
            }
          },
        })
      ) seen.add(r.index);
    })();
    run.catch(() => {});
    await deadline(noticed.promise, 30_000);
    assert.equal(stalled!.worker, "worker 0");
    assert.equal(stalled!.index, 1500);
    assert.equal(stalled!.line, 1502);
    assert.match(stalled!.file!, /data\.csv$/);
    assert.ok(stalled!.ms >= 500);
    assert.match(
      stalled!.message,
      /worker 0 is on record 1,500 \(.*data\.csv, line 1,502\).*--timeout/,
    );
    // Every record before the stuck one reached the consumer: none waits behind it.
    await deadline(
      (async () => {
        while (seen.size < 1500) await new Promise((r) => setTimeout(r, 10));
      })(),
      10_000,
    );
    assert.ok([...seen].every((i) => i < 1500));
    controller.abort(new Error("enough"));
    await assert.rejects(deadline(run, 10_000), /enough/);
  });
}

Deno.test("the notice clears when the task goes on, and the run completes", async () => {
  const slow = await plugin(`export async function classify(row: { id: string }) {
  if (row.id === "100") await new Promise((r) => setTimeout(r, 1500));
  return row.id;
}
`);
  const input = await tempFile("data.csv", numberedCsv(300));
  const states: (string | undefined)[] = [];
  let count = 0;
  for await (
    const _ of classify(slow, input, {
      workers: 1,
      stall: 300,
      onProgress: (p) => {
        const state = p.stalled ? `stalled at ${p.stalled.index}` : undefined;
        if (state !== states.at(-1)) states.push(state);
      },
    })
  ) count++;
  assert.equal(count, 300);
  assert.deepEqual(states.filter((s) => s !== undefined), ["stalled at 100"]);
  assert.equal(states.at(-1), undefined, "cleared once the record finished");
});

Deno.test("a classify in an endless loop is said too, with where its task stands", async () => {
  const spin = await plugin(`export function classify(row: { id: string }) {
  if (row.id === "1500") for (;;) { /* never returns */ }
  return row.id;
}
`);
  const input = await tempFile("data.csv", numberedCsv(3000));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../lib/cli/main.ts", import.meta.url).pathname,
      "--isolation",
      "process",
      "-w",
      "1",
      "--stall",
      "0.5",
      spin,
      input,
    ],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  await deadline(
    (async () => {
      while (!/no record has finished/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
    })(),
    30_000,
  );
  child.kill("SIGTERM");
  await child.status;
  reader.releaseLock();
  await child.stderr.cancel().catch(() => {});
  assert.match(
    text,
    /no record has finished for \d+ s: worker 0 (is on|has reported no record from) record [\d,]+ \(.*data\.csv, line [\d,]+\)/,
  );
  assert.equal(text.match(/no record has finished/g)?.length, 1, "said once");
});

Deno.test("stall is checked: a number of ms (library), of seconds (command)", async () => {
  assert.throws(
    () => classify("x.ts", [{}], { stall: -1 }),
    (e) =>
      e instanceof TypeError && /option stall must be a number of milliseconds/.test(e.message),
  );
  const r = await runCrunch(["--stall", "soon", "x.ts", "x.csv"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--stall must be a number of seconds/);
});
