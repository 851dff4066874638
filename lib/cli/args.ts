/**
 * The crunch command's line: its help, and what the options ask for.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import denoConfig from "../../deno.json" with { type: "json" };
import { nearest } from "../checks.ts";
import { formatFromName, unknownFormat } from "../input/source.ts";
import type { Format, OutputFormat } from "../options.ts";
import { parseRedisUrl } from "../checks.ts";

/** The usage line. */
export const USAGE = "usage: crunch [options] <module> [input...]";

const HELP = `crunch ${denoConfig.version}: run a classifier over a file of records on every core

${USAGE}

  <module>                  path or URL of a classifier module (exports init, classify)
  [input...]                .csv, .tsv, .ndjson or .jsonl files (each optionally .gz or .zst), globs
                            ('data/*.csv.gz') or directories, read one after another; - or
                            nothing reads standard input

options:
  -s, --spec <json|@file>   the spec passed to init(spec), as JSON text or @path to a JSON file
  -w, --workers <n>         number of workers (default: ${navigator.hardwareConcurrency}, the cores)
      --ordered             write results in input order (default: as they complete)
      --format <f>          input format: csv, tsv or ndjson (default: from the extension; csv for
                            standard input)
      --files-from <file>   read the inputs' paths from <file>, one a line (- for standard input)
      --mixed-headers       allow CSV or TSV files whose headers differ (default: an error)
  -d, --delimiter <c>       the field delimiter of CSV or TSV: ; | or any one character (\\t: tab)
      --no-header           the first record is data: fields are named c1, c2, ... (or --columns)
      --columns <a,b,...>   names of the columns of a file without a header row (with --no-header)
      --chunk-bytes <n>     bytes per chunk sent to a worker, e.g. 262144 or 4M (default 512K)
      --reader <who>        workers (default for files: each reads byte ranges itself) or main (the
                            main thread reads and cuts; always so for stdin, FIFOs and --sandbox)
  -o, --output <file>       write results to <file> (default: standard output); a regular file is
                            written whole or not at all (through a temporary file, then renamed)
      --resume              with -o: journal the run beside the output, and go on from where an
                            earlier run of the same command stopped (killed, Ctrl-C, a reboot)
      --retry-errors <file> classify again only the records an errors file lists (after a fix),
                            writing their results with their own index and line
  -t, --to <f>              output format: ndjson (default), csv (columns from the first result)
                            or json
      --tagged              add each record's index and line to its result
      --on-error <mode>     fail (default) or skip records whose parsing or classify fails
      --errors <file>       write each failed record to <file> as an NDJSON line (implies skipping
                            them; contradicts --on-error fail)
      --timeout <ms>        longest a worker may go without finishing a record; past it the worker
                            is replaced, its chunk re-run, and a record that hangs alone isolated
      --max-respawns <n>    worker deaths in a row (no record finished between) before giving up
                            (default 16)
      --max-chunks-per-worker <n>  replace each worker after n chunks (classifiers that leak memory)
  -c, --concurrency <n>     records one worker may have in classify at once (async classifiers
                            that wait on a server; default 1)
      --batch-records <n>   rows per classifyBatch call, for plug-ins that export it (default 64)
      --retries <n>         more attempts for records failing with a retryable error (default 3)
      --rate-limit <n>      at most n classify calls a second over all workers
      --isolation <how>     thread (default: Web Workers in this process) or process (a deno process
                            per worker: an out-of-memory or a hang ends only that worker)
      --max-worker-memory <MB>  heap limit of each worker: a process's hard limit (an out-of-memory
                            isolates the record); a thread is replaced between chunks past it
      --redis <url>         run the tasks on \`crunch worker\` processes (on any machines) through
                            Redis Streams: redis://[user[:password]@]host[:port][/db] or rediss://
      --high-water <n>      with --redis: most tasks in Redis at once (default 64)
      --sandbox             run the classifier without write, net, env, run, ffi or sys access, and read
                            access to its own folder only (for modules someone else wrote)
      --allow-read <paths>  with --sandbox: also let the classifier read these (comma-separated)
      --allow-write <paths> with --sandbox: let it write these
      --allow-net <hosts>   with --sandbox: let it reach these hosts
      --progress            show a progress bar on standard error (default when it is a terminal
                            and the results do not go to the same screen)
      --no-progress         never show it
      --debug               print stack traces of errors
  -h, --help                this help
      --version             print the version

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

/** A mistake in the command line: exit code 2. */
export class UsageError extends Error {}

/** What the command line asks for. */
export interface Command {
  module: string;
  input: string | undefined;
  /** Several inputs (paths, globs, directories), read one after another. */
  files?: string[];
  /** --mixed-headers. */
  mixedHeaders: boolean;
  /** --resume: journal the run beside -o, and go on from where an earlier one stopped. */
  resume: boolean;
  /** --retry-errors: an errors file whose records alone are classified again. */
  retryErrors?: string;
  concurrency?: number;
  batchRecords?: number;
  retries?: number;
  rateLimit?: { perSecond: number };
  spec: unknown;
  workers?: number;
  ordered: boolean;
  format?: Format;
  chunkBytes?: number;
  reader?: "workers" | "main";
  output?: string;
  to: OutputFormat;
  tagged: boolean;
  onError: "fail" | "skip";
  errors?: string;
  timeout?: number;
  maxRespawns?: number;
  maxChunksPerWorker?: number;
  isolation?: "thread" | "process";
  maxWorkerMemory?: number;
  /** --redis and --high-water. */
  redis?: { url: string; highWater?: number };
  permissions?: Deno.PermissionOptionsObject;
  progress: boolean;
  /** The field delimiter, when given. */
  delimiter?: string;
  /** False with --no-header. */
  header: boolean;
  /** --columns. */
  columns?: string[];
  debug: boolean;
}

/** `value` if it is one of `allowed`, else a UsageError naming --`name`. */
export function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** A positive integer, with an optional k, M or G suffix; else a UsageError naming --`name`. */
export function positive(name: string, value: string): number {
  const match = /^(\d+)([kmg]i?b?)?$/i.exec(value.trim());
  const scale = { k: 1 << 10, m: 1 << 20, g: 1 << 30 }[match?.[2]?.[0].toLowerCase() ?? ""] ?? 1;
  const n = match ? Number(match[1]) * scale : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  }
  return n;
}

async function readSpec(text: string): Promise<unknown> {
  let source = text;
  let where = "--spec";
  if (text.startsWith("@")) {
    where = text.slice(1);
    try {
      source = await Deno.readTextFile(where);
    } catch (error) {
      throw new UsageError(`cannot read the spec file ${where}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(source);
  } catch (error) {
    const hint =
      where === "--spec" && /^[\w./~-]+$/.test(text) && !/^(true|false|null|[\d.+-]+)$/.test(text)
        ? ` (to read the spec from the file ${text}, write @${text})`
        : "";
    throw new UsageError(`${where} is not valid JSON: ${(error as Error).message}${hint}`);
  }
}

const OPTIONS = {
  spec: { type: "string", short: "s" },
  workers: { type: "string", short: "w" },
  ordered: { type: "boolean" },
  format: { type: "string" },
  "chunk-bytes": { type: "string" },
  reader: { type: "string" },
  output: { type: "string", short: "o" },
  to: { type: "string", short: "t" },
  tagged: { type: "boolean" },
  "on-error": { type: "string" },
  errors: { type: "string" },
  timeout: { type: "string" },
  "max-respawns": { type: "string" },
  "max-chunks-per-worker": { type: "string" },
  isolation: { type: "string" },
  "max-worker-memory": { type: "string" },
  redis: { type: "string" },
  "high-water": { type: "string" },
  sandbox: { type: "boolean" },
  "allow-read": { type: "string" },
  "allow-write": { type: "string" },
  "allow-net": { type: "string" },
  delimiter: { type: "string", short: "d" },
  "no-header": { type: "boolean" },
  columns: { type: "string" },
  "files-from": { type: "string" },
  concurrency: { type: "string", short: "c" },
  "batch-records": { type: "string" },
  retries: { type: "string" },
  "rate-limit": { type: "string" },
  "mixed-headers": { type: "boolean" },
  resume: { type: "boolean" },
  "retry-errors": { type: "string" },
  progress: { type: "boolean" },
  "no-progress": { type: "boolean" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

/** A positive number (a rate may be fractional: 0.5 a second). */
function positiveNumber(name: string, value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new UsageError(`--${name} must be a positive number, got "${value}"`);
  }
  return n;
}

/** A glob or a directory: an input of many files. */
async function isMany(path: string): Promise<boolean> {
  if (/[*?[{]/.test(path)) return true;
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false; // missing: the run says so
  }
}

/** The paths listed in `source`, one a line (- for standard input). */
async function filesFrom(source: string): Promise<string[]> {
  let text: string;
  try {
    text = source === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(source);
  } catch (error) {
    throw new UsageError(`cannot read --files-from ${source}: ${(error as Error).message}`);
  }
  const paths = text.split("\n").map((line) => line.trim()).filter(Boolean);
  if (paths.length === 0) throw new UsageError(`--files-from ${source} lists no file`);
  return paths;
}

/** A --delimiter value: one character, with \t and "tab" for a tab. */
function delimiterArg(text: string): string {
  const delimiter = text === "\\t" || text === "tab" ? "\t" : text;
  if (delimiter.length !== 1 || delimiter.charCodeAt(0) > 127 || /["\r\n]/.test(delimiter)) {
    throw new UsageError(
      `--delimiter must be one ASCII character other than a quote or a line end (\\t for a tab), got "${text}"`,
    );
  }
  return delimiter;
}

/** A --columns value: comma-separated names, only with --no-header. */
function columnsArg(text: string, noHeader: boolean | undefined): string[] {
  if (!noHeader) {
    throw new UsageError(
      "--columns names the columns of a file without a header row: add --no-header",
    );
  }
  const names = text.split(",").map((s) => s.trim());
  if (names.some((n) => n === "") || new Set(names).size !== names.length) {
    throw new UsageError(`--columns must be distinct, non-empty names, got "${text}"`);
  }
  return names;
}

/**
 * `parseArgs` in strict mode; its errors become UsageErrors, an unknown
 * option with the nearest known one ("did you mean --ordered?").
 */
export function parseLine<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
  allowPositionals: boolean,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    let message = (error as Error).message.replace(/\. To specify a positional.*$/s, "");
    const unknown = message.match(/^Unknown option '(--?[\w-]+)'/)?.[1];
    if (unknown) {
      const guess = nearest(unknown.replace(/^-+/, ""), Object.keys(options));
      if (guess) message += ` (did you mean --${guess}?)`;
    }
    throw new UsageError(message);
  }
}

/** A --redis URL, checked; a UsageError says what is wrong with it. */
export function redisUrl(text: string): string {
  try {
    parseRedisUrl(text);
  } catch (error) {
    throw new UsageError(`--redis: ${(error as Error).message.replace(/^redis: /, "")}`);
  }
  return text;
}

/** Parses the command line; throws UsageError. Resolves null for --help / --version (already printed). */
export async function parse(args: string[]): Promise<Command | null> {
  const { values, positionals } = parseLine(args, OPTIONS, true);
  if (values.help) {
    console.log(HELP);
    return null;
  }
  if (values.version) {
    console.log(`crunch ${denoConfig.version}`);
    return null;
  }
  if (positionals.length === 0) throw new UsageError("missing <module>: the classifier to run");
  const [module, ...named] = positionals;
  if (values["files-from"] !== undefined) named.push(...await filesFrom(values["files-from"]));
  let input: string | undefined;
  let files: string[] | undefined;
  if (named.length === 1 && named[0] !== "-" && !(await isMany(named[0]))) input = named[0];
  else if (named.length > 1 || (named.length === 1 && named[0] !== "-")) {
    if (named.includes("-")) {
      throw new UsageError("- (standard input) cannot be one of several inputs");
    }
    files = named;
  }
  if (input === undefined && files === undefined && Deno.stdin.isTerminal()) {
    throw new UsageError("no input: give a file, or pipe records to standard input");
  }
  const format = values.format === undefined
    ? undefined
    : oneOf("format", values.format, ["csv", "tsv", "ndjson"] as const);
  if (input !== undefined && format === undefined && formatFromName(input) === undefined) {
    throw new UsageError(unknownFormat(input, "add --format csv, tsv or ndjson"));
  }
  if (values.errors !== undefined && values["on-error"] === "fail") {
    throw new UsageError(
      "--errors with --on-error fail contradict each other: the first error ends the run, so " +
        "no errors file would be written; drop one",
    );
  }
  const onError = values["on-error"] === undefined
    ? (values.errors === undefined ? "fail" : "skip")
    : oneOf("on-error", values["on-error"], ["fail", "skip"] as const);
  const list = (text: string | undefined) =>
    text === undefined ? false : text.split(",").map((s) => s.trim()).filter(Boolean);
  const sandboxed = values.sandbox || values["allow-read"] !== undefined ||
    values["allow-write"] !== undefined || values["allow-net"] !== undefined;
  const permissions: Deno.PermissionOptionsObject | undefined = sandboxed
    ? {
      read: list(values["allow-read"]),
      write: list(values["allow-write"]),
      net: list(values["allow-net"]),
      env: false,
      run: false,
      ffi: false,
      sys: false,
    }
    : undefined;
  if (values["high-water"] !== undefined && values.redis === undefined) {
    throw new UsageError("--high-water is a setting of --redis: add --redis <url>");
  }
  let redis: Command["redis"];
  if (values.redis !== undefined) {
    redis = {
      url: redisUrl(values.redis),
      highWater: values["high-water"] === undefined
        ? undefined
        : positive("high-water", values["high-water"]),
    };
  }
  if (values.progress && values["no-progress"]) {
    throw new UsageError("--progress and --no-progress contradict each other");
  }
  return {
    module,
    input,
    files,
    mixedHeaders: values["mixed-headers"] ?? false,
    resume: values.resume ?? false,
    retryErrors: values["retry-errors"],
    concurrency: values.concurrency === undefined
      ? undefined
      : positive("concurrency", values.concurrency),
    batchRecords: values["batch-records"] === undefined
      ? undefined
      : positive("batch-records", values["batch-records"]),
    retries: values.retries === undefined
      ? undefined
      : values.retries === "0"
      ? 0
      : positive("retries", values.retries),
    rateLimit: values["rate-limit"] === undefined
      ? undefined
      : { perSecond: positiveNumber("rate-limit", values["rate-limit"]) },
    spec: values.spec === undefined ? undefined : await readSpec(values.spec),
    workers: values.workers === undefined ? undefined : positive("workers", values.workers),
    ordered: values.ordered ?? false,
    format,
    chunkBytes: values["chunk-bytes"] === undefined
      ? undefined
      : positive("chunk-bytes", values["chunk-bytes"]),
    reader: values.reader === undefined
      ? undefined
      : oneOf("reader", values.reader, ["workers", "main"] as const),
    output: values.output,
    to: values.to === undefined
      ? "ndjson"
      : oneOf("to", values.to, ["ndjson", "csv", "json"] as const),
    tagged: values.tagged ?? false,
    onError,
    errors: values.errors,
    timeout: values.timeout === undefined ? undefined : positive("timeout", values.timeout),
    maxRespawns: values["max-respawns"] === undefined
      ? undefined
      : positive("max-respawns", values["max-respawns"]),
    permissions,
    maxChunksPerWorker: values["max-chunks-per-worker"] === undefined
      ? undefined
      : positive("max-chunks-per-worker", values["max-chunks-per-worker"]),
    isolation: values.isolation === undefined
      ? undefined
      : oneOf("isolation", values.isolation, ["thread", "process"] as const),
    maxWorkerMemory: values["max-worker-memory"] === undefined
      ? undefined
      : positive("max-worker-memory", values["max-worker-memory"]),
    redis,
    delimiter: values.delimiter === undefined ? undefined : delimiterArg(values.delimiter),
    header: !values["no-header"],
    columns: values.columns === undefined
      ? undefined
      : columnsArg(values.columns, values["no-header"]),
    // By default only where it cannot mix with results: standard error a terminal, and the
    // results not going to that same screen.
    progress: values.progress ??
      (values["no-progress"]
        ? false
        : Deno.stderr.isTerminal() && (values.output !== undefined || !Deno.stdout.isTerminal())),
    debug: values.debug ?? false,
  };
}
