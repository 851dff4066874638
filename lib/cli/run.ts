/**
 * One run of the command: the classifier over its inputs with the options
 * the flags gave, its results written to the sink as they come, failed
 * records to the errors file, the progress bar kept, a resumable run's
 * journal kept beside its output, and the run ended cleanly by a signal.
 *
 * @module
 */

import { startRun } from "../classify.ts";
import { CrunchError, ParseError, type RecordError } from "../errors.ts";
import { files } from "../files.ts";
import type { Input } from "../input/source.ts";
import type { Progress } from "../options.ts";
import type { RunIterator } from "../run/iterator.ts";
import { emptyProgress } from "../run/stats.ts";
import type { Command } from "./args.ts";
import type { Journal, Point } from "./journal.ts";
import { Eta, ProgressBar } from "./progress_bar.ts";
import type { RunReport } from "../report.ts";
import { holdLine, writeStderr } from "../stderr.ts";
import { format } from "node:util";
import type { Sink } from "./sink.ts";
import type { PartsLog } from "../run/parts_pump.ts";
import type { Checkpoint } from "../run/release.ts";

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

/** True for the error of writing to a pipe whose reader is gone. */
export function isBrokenPipe(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    (error instanceof Error && /broken pipe|os error 32/i.test(error.message));
}

/** One NDJSON line for the --errors file. */
export function errorLine(error: RecordError | ParseError): string {
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

/** The journal of a resumable run, and the point it goes on from. */
export interface Resuming {
  journal: Journal;
  point?: Point;
  /** The last point this run journaled. */
  last?: Point;
}

/** What a run of the command may do besides the plain run. */
export interface RunExtras {
  /** Journal the run and go on from a point (--resume). */
  resuming?: Resuming;
  /** Classify only these records (--retry-errors). */
  select?: ReadonlySet<number>;
  /** Keep failed records here instead of ending the run at the first (--retry-errors alone). */
  failed?: (RecordError | ParseError)[];
  /** Keep the parts committed, and go on from a point (--resume with --output-dir). */
  parts?: { log: PartsLog; point?: Checkpoint };
}

/** Journal points no closer together than this: each costs two fsyncs. */
const JOURNAL_EVERY_MS = 200;

/** Where the run writes. */
interface Outputs {
  sink: Sink;
  errorsFile: Sink | undefined;
  /** --report: the run report, written once the run completes. */
  reportFile?: Sink;
  /** --output-dir: the parts the run committed, counted as they come. */
  parts?: number;
}

/** A run's final progress, with its report (and the parts it committed, with --output-dir). */
export type Finished = Progress & { report?: RunReport; parts?: number };

/**
 * Runs `command`, writing to `outputs`; resolves with its final progress
 * (undefined when the reader of standard output went away), after the
 * outputs are committed.
 */
export async function runCommand(
  command: Command,
  outputs: Outputs,
  extras: RunExtras = {},
): Promise<Finished | undefined> {
  const bar = command.progress ? new ProgressBar() : undefined;
  const release = bar && liveLine(bar);
  const controller = new AbortController();
  const listeners = SIGNALS.map((signal) => {
    const listener = () => controller.abort(new Interrupted(signal));
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  const progress = { last: emptyProgress() };
  const eta = new Eta();
  const results = start(command, outputs, extras, controller.signal, (p) => {
    // What the run waits for is said once each time it changes (a worker to take it).
    if (p.waiting !== undefined && p.waiting !== progress.last.waiting) {
      bar?.clear();
      console.error(`crunch: ${p.waiting}`);
    }
    // So is a stall, once, when it begins.
    if (p.stalled !== undefined && p.stalled.message !== progress.last.stalled?.message) {
      bar?.clear();
      console.error(`crunch: ${p.stalled.message}`);
    }
    progress.last = p;
    bar?.update(withBefore(p, extras.resuming?.point ?? extras.parts?.point), eta.seconds(p));
  });
  let piped: boolean;
  try {
    // Results on the terminal that shows the bar: each write starts on a clean line.
    const sameScreen = bar !== undefined && command.output === undefined &&
      Deno.stdout.isTerminal();
    piped = await consume(results, outputs, extras.resuming, sameScreen ? bar : undefined);
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    bar?.clear();
    release?.();
  }
  if (extras.failed?.length) throw failedAgain(extras.failed);
  if (extras.resuming) {
    // Complete in the journal first: a run killed before the rename finishes it on --resume.
    await outputs.sink.sync();
    await outputs.errorsFile?.sync();
    await extras.resuming.journal.complete();
  }
  await outputs.sink.commit();
  await outputs.errorsFile?.commit();
  const report = results.report();
  if (outputs.reportFile && report) {
    await outputs.reportFile.write(
      new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"),
    );
    await outputs.reportFile.commit();
  }
  return piped ? undefined : { ...progress.last, report, parts: outputs.parts };
}

/**
 * Makes `bar` standard error's live line for the run: what the plug-in's
 * workers and this process's console write clears it first. Returns what
 * undoes it.
 */
function liveLine(bar: ProgressBar): () => void {
  const release = holdLine(bar);
  const saved = { error: console.error, warn: console.warn };
  console.error = console.warn = (...args: unknown[]) => writeStderr(format(...args) + "\n");
  return () => {
    release();
    Object.assign(console, saved);
  };
}

/** `progress` with what the runs before a resumed run did added. */
export function withBefore(progress: Progress, before: Checkpoint | undefined): Progress {
  if (before === undefined) return progress;
  return {
    ...progress,
    records: progress.records + before.records!,
    results: progress.results + before.results!,
    errors: progress.errors + before.errors!,
  };
}

/** Starts the run the command asks for. */
function start(
  command: Command,
  { errorsFile }: Outputs,
  extras: RunExtras,
  signal: AbortSignal,
  onProgress: (progress: Progress) => void,
): RunIterator<Uint8Array> {
  const input: Input = command.files
    ? files(...command.files)
    : command.input ?? Deno.stdin.readable;
  const { options } = command;
  const encoder = new TextEncoder();
  const before = extras.resuming?.point;
  const { failed } = extras;
  return startRun<Uint8Array>(command.module, input, {
    ...options,
    format: options.format ??
      (command.input === undefined && command.files === undefined ? "csv" : undefined),
    // A sandboxed classifier may not read the input: the main thread does.
    reader: options.reader ?? (options.permissions ? "main" : undefined),
    signal,
    onError: errorsFile
      ? (error) => errorsFile.writeSync(encoder.encode(errorLine(error)))
      : failed
      ? (error) => failed.push(error)
      : options.onError === "skip"
      ? "skip"
      : "fail",
    onProgress,
  }, {
    consoleToStderr: true,
    select: extras.select,
    ...(extras.parts && {
      checkpoints: true,
      partsLog: extras.parts.log,
      startAt: extras.parts.point && {
        byte: extras.parts.point.byte,
        index: extras.parts.point.index,
        line: extras.parts.point.line,
      },
    }),
    ...(extras.resuming && {
      checkpoints: true,
      startAt: before && { byte: before.byte, index: before.index, line: before.line },
      documentState: before?.document,
      onMark: () => ({ bytes: errorsFile?.written ?? 0, hash: errorsFile?.hash }),
    }),
  });
}

/**
 * Writes every result to the sink (journaling a resumable run as it goes);
 * resolves true when the reader of standard output went away.
 */
async function consume(
  results: RunIterator<Uint8Array>,
  outputs: Outputs,
  resuming: Resuming | undefined,
  bar: ProgressBar | undefined,
): Promise<boolean> {
  const journal = resuming && new JournalKeeper(resuming, outputs, results);
  for await (const bytes of results) {
    // --output-dir: the workers wrote the results; what comes here says which parts were committed.
    if (!(bytes instanceof Uint8Array)) {
      outputs.parts = (outputs.parts ?? 0) + 1;
      continue;
    }
    try {
      bar?.clear();
      journal?.note(1); // a point met before this value: the output holds what comes before it
      await outputs.sink.write(bytes);
      journal?.note(0);
      await journal?.maybe();
    } catch (error) {
      if (!isBrokenPipe(error)) throw error;
      await results.return?.();
      return true;
    }
  }
  return false;
}

/** Journals the points a resumable run passes, a few times a second at most. */
class JournalKeeper {
  readonly #resuming: Resuming;
  readonly #outputs: Outputs;
  readonly #results: RunIterator<Uint8Array>;
  #at = performance.now();
  /** The last point reached, with what was written up to it, until it is journaled. */
  #pending: Point | undefined;

  constructor(resuming: Resuming, outputs: Outputs, results: RunIterator<Uint8Array>) {
    this.#resuming = resuming;
    this.#outputs = outputs;
    this.#results = results;
  }

  /**
   * Notes the point the run reached before its last `behind` values, if a
   * new one: the output as written now holds exactly what comes before it.
   */
  note(behind: number): void {
    const { sink } = this.#outputs;
    const point = this.#results.checkpoint(behind);
    if (point !== undefined) {
      const before = this.#resuming.point;
      this.#pending = {
        ...point,
        records: point.records! + (before?.records ?? 0),
        results: point.results! + (before?.results ?? 0),
        errors: point.errors! + (before?.errors ?? 0),
        out: sink.written,
        outHash: sink.hash,
        errorsBytes: (point.extra as { bytes: number }).bytes,
        errorsHash: (point.extra as { hash?: number }).hash,
      };
    }
  }

  /** Journals the last point noted, when the last journaled is old enough. */
  async maybe(): Promise<void> {
    const { sink, errorsFile } = this.#outputs;
    const reached = this.#pending;
    if (reached === undefined || performance.now() - this.#at < JOURNAL_EVERY_MS) return;
    // The output and errors up to the point are made durable before the journal says so.
    await sink.sync();
    await errorsFile?.sync();
    await this.#resuming.journal.point(reached);
    this.#resuming.last = reached;
    this.#pending = undefined;
    this.#at = performance.now();
  }
}

/** The error of a --retry-errors run without an errors file whose records failed again. */
function failedAgain(failed: (RecordError | ParseError)[]): CrunchError {
  const first = failed[0];
  const reason = first instanceof ParseError
    ? first.reason
    : `${(first as RecordError).cause.name}: ${(first as RecordError).cause.message}`;
  return new CrunchError(
    `record ${first.index} (line ${first.line}) failed again: ${reason}` +
      (failed.length > 1 ? ` (and ${failed.length - 1} more; --errors keeps them all)` : ""),
  );
}
