/**
 * The command's help, its option lines made from the option table.
 *
 * @module
 */

import denoConfig from "../../deno.json" with { type: "json" };
import { OPTIONS, type OptionSpec } from "../options/table.ts";

/** The usage line. */
export const USAGE = "usage: crunch [options] <module> [input...]";

/** Columns of the help. */
const WIDTH = 100;
/** Where the text of an option's line starts. */
const TEXT_AT = 28;

/** `text` in lines of at most WIDTH - TEXT_AT characters. */
function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > WIDTH - TEXT_AT) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** An entry of the help: its left column (a flag, an argument) and its text. */
export function helpEntry(left: string, text: string): string {
  const [first, ...rest] = wrap(text);
  const head = left.length <= TEXT_AT - 2 ? `${left.padEnd(TEXT_AT)}${first}` : `${left}  ${first}`;
  return [head, ...rest.map((l) => `${" ".repeat(TEXT_AT)}${l}`)].join("\n");
}

/** The help lines of `specs`' flags, in order. */
export function flagLines(specs: readonly OptionSpec[]): string {
  return specs.flatMap(({ flag }) => {
    if (flag === undefined) return [];
    const short = flag.short ? `-${flag.short}, ` : "    ";
    const arg = flag.arg ? ` ${flag.arg}` : "";
    return [helpEntry(`  ${short}--${flag.name}${arg}`, flag.help)];
  }).join("\n");
}

/** The whole help of `crunch`. */
export function help(): string {
  return `crunch ${denoConfig.version}: run a classifier over a file of records on every core

${USAGE}

${helpEntry("  <module>", "path or URL of a classifier module (exports init, classify)")}
${
    helpEntry(
      "  [input...]",
      ".csv, .tsv, .ndjson or .jsonl files (each optionally .gz or .zst), globs " +
        "('data/*.csv.gz') or directories, read one after another; - or nothing reads " +
        "standard input",
    )
  }

options:
${flagLines(OPTIONS)}

examples:
  crunch examples/lexicon.ts reviews.csv > scores.ndjson
  crunch -w 8 --ordered -t csv -o scores.csv examples/lexicon.ts reviews.csv
  crunch -s '{"entries": 1000}' --on-error skip --errors bad.ndjson examples/lexicon.ts reviews.csv
  crunch examples/lexicon.ts reviews.csv.gz           # gzip and zstd are told by their first bytes
  crunch --tagged examples/lexicon.ts 'data/*.csv.gz'  # many files: results carry their file
  crunch -c 32 my_api_classifier.ts requests.ndjson    # 32 requests in flight per worker
  crunch worker --redis redis://host:6379               # on each machine, then:
  crunch --redis redis://host:6379 examples/lexicon.ts /shared/reviews.csv

  crunch worker --help: the options of a worker process

exit status: 0 when every record was classified (or skipped as asked), 1 when the run failed,
2 for a usage error.`;
}
