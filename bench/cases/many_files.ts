/**
 * Case 10: many files. The plain shape cut into 200 files of about 0.5 MB
 * (each with its header), through crunch as one input (a directory), against
 * the one file of the same records, with the trivial classifier through the
 * library and the command.
 *
 * @module
 */

import { files, Pool } from "../../mod.ts";
import { type Context, exists } from "../context.ts";
import { inProcess, ratioOf, rounds } from "../runner.ts";
import { SHAPES } from "../shapes.ts";
import { shapeFile, TRIVIAL } from "./shapes.ts";

const plain = SHAPES.find((s) => s.name === "plain")!;
const PARTS = 200;

/** Cuts `path` into `PARTS` CSV files at record boundaries (the shape has no quoted newline). */
async function split(path: string, dir: string): Promise<void> {
  if (await exists(`${dir}/done`)) return;
  await Deno.mkdir(dir, { recursive: true });
  const text = await Deno.readTextFile(path);
  const header = text.slice(0, text.indexOf("\n") + 1);
  const body = text.slice(header.length);
  const step = Math.ceil(body.length / PARTS);
  let at = 0;
  for (let k = 0; at < body.length; k++) {
    let end = Math.min(body.length, at + step);
    if (end < body.length) end = body.indexOf("\n", end) + 1 || body.length;
    await Deno.writeTextFile(
      `${dir}/part-${String(k).padStart(3, "0")}.csv`,
      header + body.slice(at, end),
    );
    at = end;
  }
  await Deno.writeTextFile(`${dir}/done`, "");
}

/** Case 10. */
export async function manyFiles(ctx: Context): Promise<void> {
  const path = await shapeFile(ctx, plain);
  const dir = `${ctx.cache}plain-200-files`;
  await split(path, dir);
  const pool = await Pool.start(TRIVIAL, { workers: ctx.cores });
  const count = async (input: string | ReturnType<typeof files>) => {
    let n = 0;
    for await (const batch of pool.classify(input).batches()) n += batch.length;
    return n;
  };
  const parts = files(`${dir}/*.csv`);
  const [one, many] = await rounds(
    [
      inProcess("one file, library, batches()", () => count(path)),
      inProcess(`${PARTS} files of 0.5 MB, library, batches()`, () => count(parts)),
    ],
    ctx.reps,
    ctx.log,
  );
  await pool.close();
  ctx.rows.push({ case: "10 many files", variant: one.label, rate: one.rate });
  ctx.rows.push({
    case: "10 many files",
    variant: many.label,
    rate: many.rate,
    ratio: ratioOf(many, one),
    ratioOf: "of one file's speed",
  });
}
