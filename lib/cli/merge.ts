/**
 * `--retry-errors ... --merge FIRST`: the results of the records classified
 * again, put in their places among the first run's results, so that one
 * file holds the results of every record as an uninterrupted run would
 * have written them. The first run's output must be tagged NDJSON in input
 * order (`--tagged --ordered`): each line's record index says where the
 * retried results go. It is read as a stream; the retried results (as many
 * as the errors file listed) are held in memory.
 *
 * @module
 */

import { CrunchError } from "../errors.ts";
import { concat } from "../wire/frames.ts";
import type { Sink } from "./sink.ts";

/** A tagged NDJSON line's record index, read from its start (`{"index":12,...`). */
function indexOf(line: string): number | undefined {
  const match = /^\{"index":(\d+)[,}]/.exec(line);
  if (match) return Number(match[1]);
  try {
    const value = JSON.parse(line)?.index;
    return Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The lines of the file at `path`, as they are read. */
async function* linesOf(path: string): AsyncGenerator<string> {
  let opened: Deno.FsFile;
  try {
    opened = await Deno.open(path);
  } catch (error) {
    throw new CrunchError(`cannot read --merge ${path}: ${(error as Error).message}`);
  }
  using file = opened;
  const decoder = new TextDecoder();
  let rest = "";
  for await (const bytes of file.readable) {
    const text = rest + decoder.decode(bytes, { stream: true });
    const lines = text.split("\n");
    rest = lines.pop()!;
    yield* lines;
  }
  rest += decoder.decode();
  if (rest !== "") yield rest;
}

/** What a merge did. */
export interface Merged {
  /** Lines of the first output kept. */
  kept: number;
  /** Retried results put in their places. */
  added: number;
}

/**
 * Writes to `sink` the lines of `first` (tagged NDJSON, in input order) with
 * the tagged NDJSON lines of `retried` put in their places by index. A
 * CrunchError says what is wrong with `first` (a line without an index, an
 * index out of order), naming the line.
 */
export async function mergeByIndex(
  first: string,
  retried: Uint8Array[],
  sink: Sink,
): Promise<Merged> {
  const text = new TextDecoder().decode(concat(retried));
  const extra = text.split("\n").filter((line) => line !== "").map((line) => {
    const index = indexOf(line);
    if (index === undefined) throw new CrunchError(`a retried result has no index: ${line}`);
    return { index, line };
  }).sort((a, b) => a.index - b.index);
  const encoder = new TextEncoder();
  let out: string[] = [];
  let outLength = 0;
  const put = async (line: string) => {
    out.push(line);
    outLength += line.length + 1;
    if (outLength < 1 << 20) return;
    await sink.write(encoder.encode(out.join("\n") + "\n"));
    out = [];
    outLength = 0;
  };
  let next = 0;
  let kept = 0;
  let previous = -1;
  let number = 0;
  for await (const line of linesOf(first)) {
    number++;
    if (line.trim() === "") continue;
    const index = indexOf(line);
    if (index === undefined) {
      throw new CrunchError(
        `${first}, line ${number}: no record index: --merge needs the first run's results ` +
          "written with --tagged (and --ordered)",
      );
    }
    if (index <= previous) {
      throw new CrunchError(
        `${first}, line ${number}: record ${index} comes after record ${previous}: --merge needs ` +
          "the first run's results in input order (--ordered)",
      );
    }
    previous = index;
    while (next < extra.length && extra[next].index < index) await put(extra[next++].line);
    // A record with a result in both: the retried one is the newer.
    if (next < extra.length && extra[next].index === index) await put(extra[next++].line);
    else {
      await put(line);
      kept++;
    }
  }
  while (next < extra.length) await put(extra[next++].line);
  if (out.length) await sink.write(encoder.encode(out.join("\n") + "\n"));
  return { kept, added: extra.length };
}
