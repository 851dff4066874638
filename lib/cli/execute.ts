/**
 * Running what the command line asks for: check the paths, run the
 * classifier, write the results and the errors file whole or not at all,
 * and end on a signal without leaving anything behind.
 *
 * @module
 */

import { startRun } from "../classify.ts";
import { CrunchError, ParseError, type RecordError } from "../errors.ts";
import { formatFromName, type Input, unknownFormat } from "../input/source.ts";
import { expandFiles, files } from "../files.ts";
import { emptyProgress } from "../run/stats.ts";
import type { Journal, Point } from "./journal.ts";
import { removeStale, resumePaths, resumeStart } from "./resume.ts";
import { retryErrors } from "./retry_errors.ts";
import type { Progress } from "../options.ts";
import { count, ProgressBar, thousands } from "./progress_bar.ts";
import type { Command } from "./args.ts";
import { planOutput, Sink } from "./sink.ts";
import { parseRedisUrl } from "../checks.ts";

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
        throw new CrunchError(unknownFormat(path, "add --format csv, tsv or ndjson"));
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
  if (command.resume) return await executeResumable(command, plans);
  if (command.retryErrors !== undefined) return await executeRetry(command, plans);
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
    const code = await run(command, sink, errorsFile);
    // What an earlier --resume run of this output left is no longer of use.
    if (plans.output?.how === "replace") await removeStale(resumePaths(plans.output, plans.errors));
    return code;
  } catch (error) {
    discard();
    throw error;
  }
}

/** A run with --retry-errors: only the records its errors file lists. */
async function executeRetry(
  command: Command,
  plans: Awaited<ReturnType<typeof checkPaths>>,
): Promise<number> {
  const sink = plans.output ? await Sink.open(plans.output, "results to") : Sink.stdout();
  let errorsFile: Sink | undefined;
  try {
    if (plans.errors) errorsFile = await Sink.open(plans.errors, "errors to");
    const started = performance.now();
    const done = await retryErrors(command, sink, errorsFile, errorLine);
    await sink.commit();
    await errorsFile?.commit();
    console.error(
      `crunch: ${count(done.records, "record")} listed in ${command.retryErrors} classified ` +
        `again: ${count(done.results, "result")} out, ${count(done.errors, "error")}, ` +
        `${((performance.now() - started) / 1000).toFixed(2)} s`,
    );
    return 0;
  } catch (error) {
    sink.discard();
    errorsFile?.discard();
    throw error;
  }
}

/** A run with --resume: journaled beside the output, going on from the journal's last point. */
async function executeResumable(
  command: Command,
  plans: Awaited<ReturnType<typeof checkPaths>>,
): Promise<number> {
  if (plans.output === undefined) {
    throw new CrunchError("--resume needs -o: the output file it goes on writing");
  }
  const paths = resumePaths(plans.output, plans.errors);
  const start = await resumeStart(command, paths);
  if (start.kind === "complete") {
    if (await finishRename(paths.partial, plans.output.target)) {
      if (paths.errorsPartial) await finishRename(paths.errorsPartial, plans.errors!.target);
      console.error(`crunch: the run had completed; ${command.output} is now in place`);
    } else console.error(`crunch: nothing to resume: ${command.output} is complete`);
    return 0;
  }
  const point = start.kind === "point" ? start.point : undefined;
  let stopped: Point | undefined = point;
  const sink = await Sink.resumable(plans.output, paths.partial, point?.out ?? 0);
  let errorsFile: Sink | undefined;
  try {
    if (plans.errors) {
      errorsFile = await Sink.resumable(
        plans.errors,
        paths.errorsPartial!,
        point?.errorsBytes ?? 0,
      );
    }
    // A resumable run writes in input order: what is written is always a prefix of the input's.
    const resuming: Resuming = { journal: start.journal, point };
    try {
      return await run({ ...command, ordered: true }, sink, errorsFile, resuming);
    } finally {
      const done = resuming.last ?? point;
      stopped = done;
    }
  } catch (error) {
    sink.discard();
    errorsFile?.discard();
    start.journal.close();
    console.error(
      stopped
        ? `crunch: stopped; ${thousands(stopped.records!)} records are done and journaled: ` +
          "the same command with --resume goes on from there"
        : "crunch: stopped before anything was journaled: the same command with --resume starts again",
    );
    throw error;
  }
}

/** Renames a complete run's partial file into place, if it is still there. */
async function finishRename(partial: string, target: string): Promise<boolean> {
  try {
    await Deno.rename(partial, target);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The journal of a resumable run, and the point it goes on from. */
interface Resuming {
  journal: Journal;
  point?: Point;
  /** The last point this run journaled. */
  last?: Point;
}

/** Journal points no closer together than this: each costs two fsyncs. */
const JOURNAL_EVERY_MS = 200;

async function run(
  command: Command,
  sink: Sink,
  errorsFile: Sink | undefined,
  resuming?: Resuming,
): Promise<number> {
  const before = resuming?.point;
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
    redis: command.redis,
    permissions: command.permissions,
    signal: controller.signal,
    onError: command.onError === "fail" ? "fail" : (error) => {
      errorsFile?.writeSync(encoder.encode(errorLine(error)));
    },
    onProgress: (progress) => {
      last = progress;
      // A resumed run's bar counts what the runs before it did too.
      bar?.update(
        before
          ? {
            ...progress,
            records: progress.records + before.records!,
            results: progress.results + before.results!,
            errors: progress.errors + before.errors!,
          }
          : progress,
      );
    },
  }, {
    consoleToStderr: true,
    ...(resuming && {
      checkpoints: true,
      startAt: before && { byte: before.byte, index: before.index, line: before.line },
      documentState: before?.document,
      onMark: () => errorsFile?.written ?? 0,
    }),
  });
  let journaled = performance.now();
  const journal = async () => {
    const point = results.checkpoint();
    if (point === undefined || performance.now() - journaled < JOURNAL_EVERY_MS) return;
    // The output and errors up to the point are made durable before the journal says so.
    await sink.sync();
    await errorsFile?.sync();
    const reached: Point = {
      ...point,
      records: point.records! + (before?.records ?? 0),
      results: point.results! + (before?.results ?? 0),
      errors: point.errors! + (before?.errors ?? 0),
      out: sink.written,
      errorsBytes: point.extra as number,
    };
    await resuming!.journal.point(reached);
    resuming!.last = reached;
    journaled = performance.now();
  };
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
        if (resuming) await journal();
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
  if (resuming) {
    // Complete in the journal first: a run killed before the rename finishes it on --resume.
    await sink.sync();
    await errorsFile?.sync();
    await resuming.journal.complete();
  }
  await sink.commit();
  await errorsFile?.commit();
  if (piped) return 0;
  const rate = last.elapsedMs > 0 ? last.records / (last.elapsedMs / 1000) : 0;
  if (before) {
    last = {
      ...last,
      records: last.records + before.records!,
      results: last.results + before.results!,
      errors: last.errors + before.errors!,
    };
  }
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
    `crunch: ${count(last.records, "record")} in${
      before ? ` (${thousands(before.records!)} before this run)` : ""
    }, ${count(last.results, "result")} out, ` +
      `${count(last.errors, "error")}${recovery}, ${seconds.toFixed(2)} s, ` +
      `${thousands(rate)} records/s${via(command, last)}`,
  );
  return 0;
}

/** Where the tasks ran, for the summary of a run through Redis. */
function via(command: Command, progress: Progress): string {
  if (command.redis === undefined) return "";
  const { display } = parseRedisUrl(command.redis.url);
  const data = progress.reader === "workers"
    ? "the workers read the file's byte ranges themselves"
    : "the records went through Redis";
  return ` (through ${display}: ${data})`;
}
