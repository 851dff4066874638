/**
 * Case 17: output written by the workers (`--output-dir`) against one file
 * written by the main process (`-o`), by the command, for a classifier
 * whose output is as large as its input (it returns the row), on every
 * shape, in the same rounds; and Parquet output (`-t parquet`) both ways.
 * Records per second of the whole command, `--output-dir` as a ratio of `-o`.
 *
 * @module
 */

import { type Context, here, type Row } from "../context.ts";
import { inProcess, ratioOf, rounds } from "../runner.ts";
import { SHAPES } from "../shapes.ts";
import { shapeFile } from "./shapes.ts";
import { runCrunch } from "../../tests/helpers.ts";

const IDENTITY = here("../tests/fixtures/identity.ts");
const CASE = "17 output by the workers";

/** Runs the command over `input` with `flags`; the records it read. */
async function command(input: string, flags: string[], out: string): Promise<number> {
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const { code, stderr } = await runCrunch([IDENTITY.pathname, input, ...flags]);
  if (code !== 0) throw new Error(`crunch ${flags.join(" ")}: ${stderr}`);
  const records = stderr.match(/([\d,]+) records in/)?.[1];
  if (records === undefined) throw new Error(`no summary in: ${stderr}`);
  return Number(records.replaceAll(",", ""));
}

/** Case 17. */
export async function outputDir(ctx: Context): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "crunch-bench-parts-" });
  const plans: [string, string[]][] = [
    ["plain", []],
    ["quoted-5pct", []],
    ["multibyte", []],
    ["wide-100", []],
    ["ndjson-nested", []],
    ["plain", ["-t", "parquet"]],
  ];
  try {
    for (const [shapeName, to] of plans) {
      const input = await shapeFile(ctx, SHAPES.find((s) => s.name === shapeName)!);
      const workers = ["-w", String(ctx.cores)];
      const [file, dir] = await rounds(
        [
          inProcess(
            "-o FILE",
            () => command(input, [...to, ...workers, "-o", `${tmp}/out`], `${tmp}/out`),
          ),
          inProcess(
            "--output-dir DIR",
            () => command(input, [...to, ...workers, "--output-dir", `${tmp}/dir`], `${tmp}/dir`),
          ),
        ],
        ctx.reps,
        (line) => ctx.log(`parts ${shapeName} ${to.join(" ")}: ${line}`),
      );
      const where = `${shapeName}${to.length ? ` ${to.join(" ")}` : ""}, ${ctx.cores} workers: `;
      const rows: Row[] = [
        { case: CASE, variant: where + file.label, rate: file.rate },
        {
          case: CASE,
          variant: where + dir.label,
          rate: dir.rate,
          ratio: ratioOf(dir, file),
          ratioOf: "of the records/s of the same command with -o",
        },
      ];
      ctx.rows.push(...rows);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
