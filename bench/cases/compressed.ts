/**
 * Case 9: compressed input. The plain shape compressed with gzip and zstd,
 * as one member or frame and as many (independent pieces of 8 MB, as pigz
 * -i, BGZF or zstd -B write them), through crunch against `zcat file |
 * crunch -` (decoding in another process) and against the plain file, all
 * with the trivial classifier through the command.
 *
 * @module
 */

import zlib from "node:zlib";
import { type Context, exists } from "../context.ts";
import { type Contender, ratioOf, rounds } from "../runner.ts";
import { SHAPES } from "../shapes.ts";
import { spread } from "../stats.ts";
import { shapeFile, TRIVIAL } from "./shapes.ts";

const plain = SHAPES.find((s) => s.name === "plain")!;
const CLI = new URL("../../lib/cli/main.ts", import.meta.url).pathname;
const PIECE = 8 << 20;

/** Writes `path` compressed with `kind`, whole or in independent pieces of 8 MB. */
async function compressed(path: string, kind: "gzip" | "zstd", pieces: boolean): Promise<string> {
  const base = pieces ? path.replace(/\.csv$/, ".multi.csv") : path;
  const target = `${base}.${kind === "gzip" ? "gz" : "zst"}`;
  if (await exists(target)) return target;
  const data = await Deno.readFile(path);
  const out = await Deno.open(target, { write: true, create: true, truncate: true });
  const compress = (bytes: Uint8Array) =>
    kind === "gzip"
      ? zlib.gzipSync(bytes, { level: 6 })
      : zlib.zstdCompressSync(bytes, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } });
  const step = pieces ? PIECE : data.length;
  for (let at = 0; at < data.length; at += step) {
    const bytes = compress(data.subarray(at, at + step));
    for (let k = 0; k < bytes.length;) k += await out.write(bytes.subarray(k));
  }
  out.close();
  return target;
}

/** One run of a shell pipeline; the record count is read from crunch's summary line. */
function shell(label: string, script: string): Contender {
  return {
    label,
    async run() {
      const started = performance.now();
      const out = await new Deno.Command("bash", {
        args: ["-c", `set -o pipefail; ${script}`],
        stdout: "null",
        stderr: "piped",
      }).output();
      const seconds = (performance.now() - started) / 1000;
      const text = new TextDecoder().decode(out.stderr);
      if (!out.success) throw new Error(`${label} failed: ${text}`);
      const records = Number(text.match(/([\d,]+) records? in/)![1].replaceAll(",", ""));
      return { records, seconds };
    },
  };
}

/** Case 9. */
export async function compressedInput(ctx: Context): Promise<void> {
  const path = await shapeFile(ctx, plain);
  const crunch = (input: string) =>
    `deno run -A ${CLI} --no-progress -w ${ctx.cores} ${TRIVIAL.pathname} ${input} > /dev/null`;
  const contenders: Contender[] = [shell("plain file", crunch(path))];
  const variants: [string, string][] = [];
  for (const kind of ["gzip", "zstd"] as const) {
    for (const pieces of [false, true]) {
      ctx.log(`compressing ${path} with ${kind}${pieces ? " in 8 MB pieces" : ""}`);
      const file = await compressed(path, kind, pieces);
      const name = `${kind}, ${pieces ? "many members/frames" : "one member/frame"}`;
      variants.push([name, file]);
      contenders.push(shell(`crunch ${name}`, crunch(file)));
      const cat = kind === "gzip" ? "gzip -dc" : "zstd -dcq";
      const tool = kind === "gzip" ? "gzip" : "zstd";
      const has = await new Deno.Command("bash", { args: ["-c", `command -v ${tool}`] }).output();
      if (has.success) {
        contenders.push(
          shell(`${cat} | crunch -, ${name}`, `${cat} ${file} | ${crunch("-")}`),
        );
      }
    }
  }
  const results = await rounds(contenders, ctx.reps, ctx.log);
  const base = results[0];
  for (const result of results) {
    const mb = (await Deno.stat(path)).size / 1e6;
    ctx.rows.push({
      case: "9 compressed input",
      variant: result.label,
      rate: result.rate,
      mbPerSecond: spread(result.seconds.map((s) => mb / s)),
      ...(result === base ? {} : {
        ratio: ratioOf(result, base),
        ratioOf: "of the plain file's speed",
      }),
    });
  }
}
