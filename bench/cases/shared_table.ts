/**
 * Case 7: a SharedTable against a Map: lookups on one thread, and the whole
 * process's memory and start-up with a 3-million-entry lexicon for 1, 2 and
 * 8 workers.
 *
 * @module
 */

import { SharedTable } from "../../mod.ts";
import * as lexicon from "../../examples/lexicon.ts";
import { eachChunkRows } from "../chunk_rows.ts";
import { type Context, here } from "../context.ts";
import { inProcess, ratioOf, rounds } from "../runner.ts";
import { SHAPES } from "../shapes.ts";
import { shapeFile } from "./shapes.ts";

/** Case 7. */
export async function sharedTable(ctx: Context): Promise<void> {
  const path = await shapeFile(ctx, SHAPES.find((s) => s.name === "plain")!);
  const map = lexicon.buildLexicon({});
  const table = SharedTable.from(map);
  const texts: string[] = [];
  await eachChunkRows(path, "csv", (batch) => {
    for (const row of batch) if (texts.length < 300_000) texts.push((row as { text: string }).text);
  });
  let sink = 0;
  const splitWords = (get: (w: string) => number | undefined) => () => {
    let n = 0;
    for (const text of texts) {
      for (const w of text.split(" ")) {
        sink += get(w) ?? 0;
        n++;
      }
    }
    return Promise.resolve(n);
  };
  const [mapRun, tableGet, tableRange] = await rounds(
    [
      inProcess("lookups/s, Map.get (split words)", splitWords((w) => map.get(w))),
      inProcess(
        "lookups/s, SharedTable.get (split words)",
        splitWords((w) => table.get(w) as number | undefined),
      ),
      inProcess("lookups/s, SharedTable.getRange (no split)", () => {
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
      }),
    ],
    ctx.reps,
    ctx.log,
  );
  if (sink === 42) ctx.log("");
  ctx.rows.push({ case: "7 shared table", variant: mapRun.label, rate: mapRun.rate });
  for (const r of [tableGet, tableRange]) {
    ctx.rows.push({
      case: "7 shared table",
      variant: r.label,
      rate: r.rate,
      ratio: ratioOf(r, mapRun),
      ratioOf: "x Map",
    });
  }
  const entries = ctx.quick ? 500_000 : 3_000_000;
  const peaks: Record<string, number> = {};
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
      ctx.log(`${mode} ${workers}w: ${JSON.stringify(result)}`);
      peaks[`${mode}${workers}`] = result.peakRssMb;
      const what = mode === "map" ? "Map built in init per worker" : "SharedTable built in prepare";
      ctx.rows.push({
        case: "7 shared table",
        variant: `${what}, ${entries} entries, ${workers} workers: peak RSS`,
        value: result.peakRssMb,
        unit: "MB",
      });
      ctx.rows.push({
        case: "7 shared table",
        variant: `${what}, ${entries} entries, ${workers} workers: start-up`,
        value: result.startup * 1000,
        unit: "ms",
      });
    }
  }
  for (const [mode, what] of [["shared", "SharedTable"], ["map", "Map per worker"]]) {
    const ratio = peaks[`${mode}8`] / peaks[`${mode}1`];
    ctx.rows.push({
      case: "7 shared table",
      variant: `${what}: peak RSS with 8 workers / with 1`,
      ratio: { median: ratio, min: ratio, max: ratio, n: 1 },
      ratioOf: "ratio",
    });
  }
}
