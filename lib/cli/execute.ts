/**
 * Running what the command line asks for: check the paths, run the
 * classifier, write the results and the errors file whole or not at all,
 * and end on a signal without leaving anything behind.
 *
 * @module
 */

import { startRun } from "../classify.ts";
import { CrunchError, ParseError, type RecordError } from "../errors.ts";
import { formatFromName, type Input } from "../input.ts";
import { expandFiles, files } from "../files.ts";
import { emptyProgress } from "../run/stats.ts";
import type { Progress } from "../options.ts";
import { count, ProgressBar, thousands } from "../progress_bar.ts";
import type { Command } from "./args.ts";
import { planOutput, Sink } from "./sink.ts";

/** One NDJSON line for the --errors file. */
function errorLine(error: RecordError | ParseError): string {
  const cause = error instanceof ParseError
    ? { name: "ParseError", message: error.reason, stack: undefined }
    : { name: error.cause.name, message: error.cause.message, stack: error.cause.stack };
  if (error instanceof ParseError) {
    const { index, line, byte, text } = error;
    return JSON.stringify({ index, line, byte, text, record: null, error: cause }) + "\n";
  }
  return JSON.stringify({
    index: error.index,
    line: error.line ?? null,
    record: error.record,
    error: cause,
  }) + "\n";
}

/** True for the error of writing to a pipe whose reader is gone. */
export function isBrokenPipe(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    (error instanceof Error && /broken pipe|os error 32/i.test(error.message));
}

/** The run was ended by a signal. */
export class Interrupted extends CrunchError {
  /** Which signal. */
  readonly signal: Deno.Signal;

  /** `signal` ended the run. */
  constructor(signal: Deno.Signal) {
    super(`interrupted (${signal})`);
    this.signal = signal;
  }
}

/** The signals that end a run cleanly: output discarded, workers stopped. */
export const SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Where the user's paths lead, checked before the run starts: nothing is read or written before. */
async function checkPaths(command: Command) {
  let input: string | undefined;
  const inputs = new Set<string>();
  if (command.files !== undefined) {
    // Expanded now: a missing file or an empty glob stops the run before anything is written.
    command.files = await expandFiles(command.files);
    for (const path of command.files) {
      inputs.add(await Deno.realPath(path));
      if (command.format === undefined && formatFromName(path) === undefined) {
        throw new CrunchError(
          `cannot tell the format of ${path} from its extension (.csv, .tsv, .ndjson, .jsonl, ` +
            "each optionally .gz or .zst): add --format csv, tsv or ndjson",
        );
      }
    }
  }
  if (command.input !== undefined) {
    try {
      const info = await Deno.stat(command.input);
      if (info.isDirectory) throw new Error("it is a directory");
      input = await Deno.realPath(command.input);
    } catch (error) {
      throw new CrunchError(`cannot read input ${command.input}: ${(error as Error).message}`);
    }
  }
  const output = command.output === undefined
    ? undefined
    : await planOutput(command.output, "results to");
  const errors = command.errors === undefined
    ? undefined
    : await planOutput(command.errors, "errors to");
  for (const plan of [output, errors]) {
    if (plan !== undefined && (plan.target === input || inputs.has(plan.target))) {
      throw new CrunchError(
        `${plan.given} is the input file: writing there would destroy the input`,
      );
    }
  }
  if (output && errors && output.target === errors.target && output.how === "replace") {
    throw new CrunchError(`-o and --errors name the same file, ${output.given}`);
  }
  return { output, errors };
}

/** Runs `command`; resolves with the exit code. */
export async function execute(command: Command): Promise<number> {
  const plans = await checkPaths(command);
  const sink = plans.output ? await Sink.open(plans.output, "results to") : Sink.stdout();
  let errorsFile: Sink | undefined;
  try {
    if (plans.errors) errorsFile = await Sink.open(plans.errors, "errors to");
  } catch (error) {
    sink.discard();
    throw error;
  }
  const discard = () => {
    sink.discard();
    errorsFile?.discard();
  };
  try {
    return await run(command, sink, errorsFile);
  } catch (error) {
    discard();
    throw error;
  }
}

async function run(command: Command, sink: Sink, errorsFile: Sink | undefined): Promise<number> {
  const bar = command.progress ? new ProgressBar() : undefined;
  const controller = new AbortController();
  const listeners = SIGNALS.map((signal) => {
    const listener = () => controller.abort(new Interrupted(signal));
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  let last: Progress = emptyProgress();
  const encoder = new TextEncoder();
  const input: Input = command.files
    ? files(...command.files)
    : command.input ?? Deno.stdin.readable;
  const results = startRun<Uint8Array>(command.module, input, {
    spec: command.spec,
    workers: command.workers,
    ordered: command.ordered,
    format: command.format ??
      (command.input === undefined && command.files === undefined ? "csv" : undefined),
    mixedHeaders: command.mixedHeaders,
    concurrency: command.concurrency,
    batchRecords: command.batchRecords,
    retries: command.retries,
    rateLimit: command.rateLimit,
    chunkBytes: command.chunkBytes,
    // A sandboxed classifier may not read the input: the main thread does.
    reader: command.reader ?? (command.permissions ? "main" : undefined),
    tagged: command.tagged,
    encode: command.to,
    timeout: command.timeout,
    maxRespawns: command.maxRespawns,
    maxChunksPerWorker: command.maxChunksPerWorker,
    delimiter: command.delimiter,
    header: command.header,
    columns: command.columns,
    isolation: command.isolation,
    maxWorkerMemory: command.maxWorkerMemory,
    permissions: command.permissions,
    signal: controller.signal,
    onError: command.onError === "fail" ? "fail" : (error) => {
      errorsFile?.writeSync(encoder.encode(errorLine(error)));
    },
    onProgress: (progress) => {
      last = progress;
      bar?.update(progress);
    },
  }, { consoleToStderr: true });
  let failed: unknown;
  let piped = false;
  try {
    // Results on the terminal that shows the bar: each write starts on a clean line.
    const sameScreen = bar !== undefined && command.output === undefined &&
      Deno.stdout.isTerminal();
    for await (const bytes of results) {
      try {
        if (sameScreen) bar.clear();
        await sink.write(bytes);
      } catch (error) {
        if (!isBrokenPipe(error)) throw error;
        piped = true;
        await results.return?.();
        break;
      }
    }
  } catch (error) {
    failed = error;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    bar?.clear();
  }
  if (failed !== undefined) throw failed;
  await sink.commit();
  await errorsFile?.commit();
  if (piped) return 0;
  const seconds = last.elapsedMs / 1000;
  const recovery = [
    [last.retries, last.retries === 1 ? "retry" : "retries"],
    [last.respawns, last.respawns === 1 ? "respawn" : "respawns"],
    [last.isolated, "isolated"],
    [last.recycled, "recycled"],
    [last.reruns, last.reruns === 1 ? "range rerun" : "ranges rerun"],
    [last.retriedRecords ?? 0, last.retriedRecords === 1 ? "classify retry" : "classify retries"],
  ].filter(([n]) => n).map(([n, what]) => `, ${thousands(n as number)} ${what}`).join("");
  for (const warning of last.warnings ?? []) console.error(`crunch: warning: ${warning}`);
  console.error(
    `crunch: ${count(last.records, "record")} in, ${count(last.results, "result")} out, ` +
      `${count(last.errors, "error")}${recovery}, ${seconds.toFixed(2)} s, ` +
      `${thousands(seconds > 0 ? last.records / seconds : 0)} records/s`,
  );
  return 0;
}
