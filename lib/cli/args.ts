/**
 * The crunch command's line: what the flags ask for, read through the
 * option table (each flag's value read as its option's kind), and the few
 * flags that make one option together (`--redis` with `--high-water`, the
 * sandbox's `--sandbox` and `--allow-*`, `--errors` with `--on-error`).
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import denoConfig from "../../deno.json" with { type: "json" };
import { nearest, parseRedisUrl } from "../checks.ts";
import { formatFromName, unknownFormat } from "../input/source.ts";
import type { ClassifyOptions, OutputFormat } from "../options.ts";
import { FlagError, integer, positiveNumber } from "../options/kinds.ts";
import { OPTIONS, type OptionSpec } from "../options/table.ts";
import { help, USAGE } from "./help.ts";
import { isRemote } from "../remote/location.ts";
import { isS3Many } from "../remote/listing.ts";

export { FlagError as UsageError, USAGE };

/** What the command line asks for. */
export interface Command {
  module: string;
  /** One input file, when one is given. */
  input: string | undefined;
  /** Several inputs (paths, globs, directories), read one after another. */
  files?: string[];
  /** The library's options, as the flags give them (`encode` always set: -t, or ndjson). */
  options: ClassifyOptions & { encode: OutputFormat };
  /** -o: where the results go (default standard output). */
  output?: string;
  /** --errors: where failed records go. */
  errors?: string;
  /** --report: where the run report goes. */
  report?: string;
  /** --dry-run: forecast the run from a sample; write nothing. */
  dryRun?: boolean;
  /** --sample: records in the --dry-run sample. */
  sample?: number;
  /** --resume: journal the run beside -o, and go on from where an earlier one stopped. */
  resume: boolean;
  /** --retry-errors: an errors file whose records alone are classified again. */
  retryErrors?: string;
  /** --merge: the first run's output, which the retried results are merged into. */
  merge?: string;
  progress: boolean;
  debug: boolean;
}

const SPECS: readonly OptionSpec[] = OPTIONS;

/** The parseArgs configuration of every flag in the table. */
const FLAGS: ParseArgsOptionsConfig = Object.fromEntries(
  SPECS.flatMap(({ flag }) =>
    flag === undefined ? [] : [[flag.name, {
      type: flag.arg ? "string" as const : "boolean" as const,
      ...(flag.short ? { short: flag.short } : {}),
      ...(flag.multiple ? { multiple: true } : {}),
    }]]
  ),
);

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
      message = `unknown option ${unknown}`;
      const guess = nearest(unknown.replace(/^-+/, ""), Object.keys(options));
      if (guess) message += ` (did you mean --${guess}?)`;
    }
    throw new FlagError(message);
  }
}

/**
 * A --redis URL, checked: given as it is, or `@file` (read from that file)
 * or `env:NAME` (from that environment variable; `env` alone for
 * `CRUNCH_REDIS_URL`), so that a password need not be on the command line,
 * where every local user sees it. A UsageError says what is wrong.
 */
export function redisUrl(text: string): string {
  let url = text;
  if (text.startsWith("@")) {
    try {
      url = Deno.readTextFileSync(text.slice(1)).trim();
    } catch (error) {
      throw new FlagError(`--redis: cannot read ${text.slice(1)}: ${(error as Error).message}`);
    }
  } else if (text === "env" || text.startsWith("env:")) {
    const name = text === "env" ? "CRUNCH_REDIS_URL" : text.slice(4);
    const value = Deno.env.get(name);
    if (value === undefined) throw new FlagError(`--redis: the environment has no ${name}`);
    url = value.trim();
  }
  try {
    parseRedisUrl(url);
  } catch (error) {
    const where = url === text ? "" : ` (from ${text})`;
    throw new FlagError(`--redis${where}: ${(error as Error).message.replace(/^redis: /, "")}`);
  }
  return url;
}

async function readSpec(text: string): Promise<unknown> {
  let source = text;
  let where = "--spec";
  if (text.startsWith("@")) {
    where = text.slice(1);
    try {
      source = await Deno.readTextFile(where);
    } catch (error) {
      throw new FlagError(`cannot read the spec file ${where}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(source);
  } catch (error) {
    const hint =
      where === "--spec" && /^[\w./~-]+$/.test(text) && !/^(true|false|null|[\d.+-]+)$/.test(text)
        ? ` (to read the spec from the file ${text}, write @${text})`
        : "";
    throw new FlagError(`${where} is not valid JSON: ${(error as Error).message}${hint}`);
  }
}

/** A glob or a directory (or an s3:// prefix or glob): an input of many files. */
async function isMany(path: string): Promise<boolean> {
  if (isRemote(path)) return isS3Many(path);
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
    throw new FlagError(`cannot read --files-from ${source}: ${(error as Error).message}`);
  }
  const paths = text.split("\n").map((line) => line.trim()).filter(Boolean);
  if (paths.length === 0) throw new FlagError(`--files-from ${source} lists no file`);
  return paths;
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The library options the flags give, each read as its option's kind. */
function optionsOf(values: Values): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const { flag, key, kind } of SPECS) {
    if (flag === undefined || key === undefined || kind === undefined) continue;
    const value = values[flag.name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      // A repeated flag: each value read, their lists joined.
      options[key] = value.flatMap((v) => kind.read(flag.name, String(v)) as unknown[]);
      continue;
    }
    const read = kind.read(flag.name, typeof value === "string" ? value : "");
    options[key] = flag.negates ? !read : read;
  }
  return options;
}

/** The inputs the positionals (and --files-from) name: one file, several, or standard input. */
async function inputsOf(named: string[], values: Values) {
  if (values["files-from"] !== undefined) {
    named.push(...await filesFrom(values["files-from"] as string));
  }
  let input: string | undefined;
  let files: string[] | undefined;
  if (named.length === 1 && named[0] !== "-" && !(await isMany(named[0]))) input = named[0];
  else if (named.length > 1 || (named.length === 1 && named[0] !== "-")) {
    if (named.includes("-")) {
      throw new FlagError("- (standard input) cannot be one of several inputs");
    }
    files = named;
  }
  if (input === undefined && files === undefined && Deno.stdin.isTerminal()) {
    throw new FlagError("no input: give a file, or pipe records to standard input");
  }
  return { input, files };
}

/** The sandbox's permissions, when --sandbox or an --allow-* flag asks for one. */
function sandboxOf(values: Values): Deno.PermissionOptionsObject | undefined {
  const list = (text: unknown) =>
    typeof text !== "string" ? false : text.split(",").map((s) => s.trim()).filter(Boolean);
  const sandboxed = values.sandbox || values["allow-read"] !== undefined ||
    values["allow-write"] !== undefined || values["allow-net"] !== undefined;
  if (!sandboxed) return undefined;
  return {
    read: list(values["allow-read"]),
    write: list(values["allow-write"]),
    net: list(values["allow-net"]),
    env: false,
    run: false,
    ffi: false,
    sys: false,
  };
}

/** The flags that make an option together, and those that contradict each other. */
function combined(values: Values, options: Record<string, unknown>): void {
  if (options.columns !== undefined && options.header !== false) {
    throw new FlagError(
      "--columns names the columns of a file without a header row: add --no-header",
    );
  }
  if (values.errors !== undefined && values["on-error"] === "fail") {
    throw new FlagError(
      "--errors with --on-error fail contradict each other: the first error ends the run, so " +
        "no errors file would be written; drop one",
    );
  }
  if (values.errors !== undefined) options.onError ??= "skip";
  options.encode ??= "ndjson";
  options.permissions = sandboxOf(values);
  for (const flag of ["high-water", "wait-for-workers"]) {
    if (values[flag] !== undefined && values.redis === undefined) {
      throw new FlagError(`--${flag} is a setting of --redis: add --redis <url>`);
    }
  }
  if (values.redis !== undefined) {
    const highWater = values["high-water"];
    const wait = values["wait-for-workers"];
    options.redis = {
      url: redisUrl(values.redis as string),
      highWater: highWater === undefined ? undefined : integer().read("high-water", `${highWater}`),
      waitForWorkers: wait === undefined
        ? undefined
        : Math.round(positiveNumber().read("wait-for-workers", `${wait}`) * 1000),
    };
  }
  if (values.merge !== undefined && values["retry-errors"] === undefined) {
    throw new FlagError("--merge is a setting of --retry-errors: add --retry-errors <errors file>");
  }
  for (const flag of ["resume", "retry-errors"]) {
    if (values[flag] !== undefined && options.limit !== undefined) {
      throw new FlagError(`--limit with --${flag}: a limited run is a try, not one to go on from`);
    }
  }
  if (options.outputDir !== undefined) {
    if (values.output !== undefined) {
      throw new FlagError("-o and --output-dir: the results go to one or the other");
    }
    for (const flag of ["retry-errors", "tagged"]) {
      if (values[flag]) throw new FlagError(`--${flag} with --output-dir is not supported yet`);
    }
    if (values.resume && /^s3:/i.test(String(options.outputDir))) {
      throw new FlagError("--resume with an s3:// --output-dir is not supported yet");
    }
    if (values.resume && values.errors !== undefined) {
      throw new FlagError("--errors with --resume and --output-dir is not supported yet");
    }
  }
  if (options.encode === "parquet" && values.resume !== undefined) {
    throw new FlagError(
      "--resume with -t parquet: a Parquet file ends with a footer over all its row groups, " +
        "so a run cut short leaves nothing to go on from; write NDJSON or CSV to resume",
    );
  }
  if (values["retry-errors"] !== undefined) {
    // The retried records' results say which records they are: they are not a run of their own.
    options.tagged = true;
    if (values.merge !== undefined && options.encode !== "ndjson") {
      throw new FlagError("--merge reads and writes tagged NDJSON: drop -t");
    }
  }
  if (values.progress && values["no-progress"]) {
    throw new FlagError("--progress and --no-progress contradict each other");
  }
}

/**
 * Whether the progress line is drawn when no flag says: only where it cannot
 * mix with anything else on the screen. Standard error must be a terminal;
 * the results must go to a file (-o, or standard output redirected to one):
 * not to that same screen, and not into a pipe, whose reader (`| head`,
 * `| jq`) may write to the terminal too.
 */
function progressByDefault(output: string | undefined): boolean {
  if (!Deno.stderr.isTerminal()) return false;
  if (output !== undefined) return true;
  if (Deno.stdout.isTerminal()) return false;
  try {
    const info = Deno.statSync("/dev/stdout");
    return info.isFile || info.isCharDevice === true; // a file, or /dev/null
  } catch {
    return false; // no /dev/stdout to ask (Windows): as for a pipe
  }
}

/** Parses the command line; throws UsageError. Resolves null for --help / --version (already printed). */
export async function parse(args: string[]): Promise<Command | null> {
  const { values, positionals } = parseLine(args, FLAGS, true);
  const given = values as Values;
  if (given.help) {
    console.log(help());
    return null;
  }
  if (given.version) {
    console.log(`crunch ${denoConfig.version}`);
    return null;
  }
  if (positionals.length === 0) throw new FlagError("missing <module>: the classifier to run");
  const [module, ...named] = positionals;
  const { input, files } = await inputsOf(named, given);
  const options = optionsOf(given);
  if (input !== undefined && options.format === undefined && formatFromName(input) === undefined) {
    throw new FlagError(unknownFormat(input, "add --format csv, tsv or ndjson"));
  }
  combined(given, options);
  if (given.spec !== undefined) options.spec = await readSpec(given.spec as string);
  // `-o -` is standard output, as an input `-` is standard input.
  const output = given.output === "-" ? undefined : given.output as string | undefined;
  return {
    module,
    input,
    files,
    options: options as unknown as Command["options"],
    output,
    errors: given.errors as string | undefined,
    report: given.report as string | undefined,
    dryRun: given["dry-run"] === true,
    sample: given.sample === undefined
      ? undefined
      : integer().read("sample", given.sample as string),
    resume: given.resume === true,
    retryErrors: given["retry-errors"] as string | undefined,
    merge: given.merge as string | undefined,
    progress: (given.progress as boolean | undefined) ??
      (given["no-progress"] ? false : progressByDefault(output)),
    debug: given.debug === true,
  };
}
