/**
 * Case 8: parsing alone on every shape, crunch's worker parse beside
 * csv-parse, d3-dsv and uDSV (see `parse_matrix.ts`).
 *
 * @module
 */

import type { Context } from "../context.ts";
import { parseMatrix } from "../parse_matrix.ts";
import { SHAPES } from "../shapes.ts";
import { shapeFile } from "./shapes.ts";

/** Case 8. */
export async function parsing(ctx: Context): Promise<void> {
  const paths: string[] = [];
  for (const shape of SHAPES) paths.push(await shapeFile(ctx, shape));
  const dir = paths[0].slice(0, paths[0].lastIndexOf("/"));
  const megabytes = ctx.quick ? 8 : 32;
  for (const row of await parseMatrix(dir, megabytes, ctx.reps, ctx.log)) {
    ctx.rows.push({
      case: `8 parse, one thread, first ${megabytes} MB`,
      variant: `${row.shape}: ${row.parser}`,
      mbPerSecond: row.mbPerSecond,
      note: row.wrong ? `WRONG RECORDS: ${row.wrong}` : undefined,
    });
  }
}
