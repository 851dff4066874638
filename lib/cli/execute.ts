/**
 * Running what the command line asks for: check the paths, run the
 * classifier, write the results and the errors file whole or not at all,
 * and end on a signal without leaving anything behind.
 *
 * @module
 */

import { CrunchError, type ParseError, type RecordError } from "../errors.ts";
import { formatFromName, unknownFormat } from "../input/source.ts";
import { expandFiles } from "../files.ts";
import type { Point } from "./journal.ts";
import { removeStale, type ResumePaths, resumePaths, resumeStart, takeLock } from "./resume.ts";
import { listedRecords } from "./retry_errors.ts";
import { mergeByIndex } from "./merge.ts";
import type { Progress } from "../options.ts";
import { count, thousands } from "../numbers.ts";
import { type Command, UsageError } from "./args.ts";
import { type OutputPlan, planOutput, removeStaleTemps, Sink } from "./sink.ts";
import { parseRedisUrl } from "../checks.ts";
import { partsStart } from "./resume_parts.ts";
import type { Checkpoint } from "../run/release.ts";
import { isRemote, s3Parts } from "../remote/location.ts";
import { forecast } from "./forecast.ts";
import { type Finished, type Resuming, runCommand, type RunExtras, withBefore } from "./run.ts";

export { errorLine, Interrupted, isBrokenPipe, SIGNALS } from "./run.ts";

/** Where the user's paths lead, checked before the run starts: nothing is read or written before. */
async function checkPaths(command: Command) {
  let input: string | undefined;
  const inputs = new Set<string>();
  if (command.files !== undefined) {
    // Expanded now: a missing file or an empty glob stops the run before anything is written.
    command.files = await expandFiles(command.files);
    for (const path of command.files) {
      if (!isRemote(path)) inputs.add(await Deno.realPath(path));
      if (command.options.format === undefined && formatFromName(path) === undefined) {
        throw new UsageError(unknownFormat(path, "add --format csv, tsv or ndjson"));
      }
    }
  }
  if (command.input !== undefined && !isRemote(command.input)) {
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
  const report = command.report === undefined
    ? undefined
    : await planOutput(command.report, "the report to");
  for (const plan of [output, errors, report]) {
    if (plan !== undefined && (plan.target === input || inputs.has(plan.target))) {
      throw new UsageError(
        `${plan.given} is the input file: writing there would destroy the input`,
      );
    }
  }
  if (output && errors && output.target === errors.target && output.how === "replace") {
    throw new UsageError(`-o and --errors name the same file, ${output.given}`);
  }
  return { output, errors, report };
}

/** The outputs a run's paths lead to. */
interface Plans {
  output?: OutputPlan;
  errors?: OutputPlan;
  report?: OutputPlan;
}

/** Runs `command`; resolves with the exit code. */
export async function execute(command: Command): Promise<number> {
  const plans = await checkPaths(command);
  if (command.dryRun) {
    if (command.input === undefined && command.files === undefined) {
      throw new UsageError("--dry-run samples a file or URL: give one (not standard input)");
    }
    return await forecast(command);
  }
  if (command.resume && command.options.outputDir !== undefined) {
    return await executePartsResumable(command, plans);
  }
  if (command.resume) return await executeResumable(command, plans);
  if (command.retryErrors !== undefined) return await executeRetry(command, plans);
  const last = await runWith(command, plans);
  // What an earlier --resume run of this output left is no longer of use.
  if (plans.output?.how === "replace") await removeStale(resumePaths(plans.output, plans.errors));
  if (last) summary(command, last);
  return 0;
}

/** Opens the outputs `plans` name and runs `command` into them; a failed run leaves neither. */
async function runWith(
  command: Command,
  plans: Plans,
  extras?: RunExtras,
  into?: Sink,
): Promise<Finished | undefined> {
  for (const plan of [plans.output, plans.errors]) {
    for (const stale of plan ? await removeStaleTemps(plan) : []) {
      console.error(
        `crunch: removed ${stale.path} (${(stale.bytes / 1e6).toFixed(1)} MB), left by an ` +
          `earlier run that was killed (process ${stale.pid} is gone)`,
      );
    }
  }
  const sink = into ??
    (plans.output ? await Sink.open(plans.output, "results to") : Sink.stdout());
  let errorsFile: Sink | undefined;
  let reportFile: Sink | undefined;
  try {
    if (plans.errors) errorsFile = await Sink.open(plans.errors, "errors to");
    if (plans.report) reportFile = await Sink.open(plans.report, "the report to");
    return await runCommand(command, { sink, errorsFile, reportFile }, extras);
  } catch (error) {
    sink.discard();
    errorsFile?.discard();
    reportFile?.discard();
    throw error;
  }
}

/** A run with --retry-errors: only the records its errors file lists, in input order. */
async function executeRetry(command: Command, plans: Plans): Promise<number> {
  if (command.input === undefined || command.files !== undefined) {
    throw new UsageError("--retry-errors needs the one input file the errors file came from");
  }
  const select = await listedRecords(command.retryErrors!);
  const ordered = { ...command, options: { ...command.options, ordered: true } };
  const failed: (RecordError | ParseError)[] = [];
  // With --merge the retried results wait in memory, to be put in their places among the first's.
  const retried = command.merge === undefined ? undefined : Sink.memory();
  const last = await runWith(ordered, plans, {
    select,
    failed: plans.errors ? undefined : failed,
  }, retried);
  if (last) {
    console.error(
      `crunch: ${count(select.size, "record")} listed in ${command.retryErrors} classified ` +
        `again: ${count(last.results, "result")} out, ${count(last.errors, "error")}, ` +
        `${(last.elapsedMs / 1000).toFixed(2)} s`,
    );
  }
  if (retried !== undefined) await mergeInto(command, plans, retried);
  return 0;
}

/** Writes the first run's results with the retried ones in their places (--merge). */
async function mergeInto(command: Command, plans: Plans, retried: Sink): Promise<void> {
  const sink = plans.output ? await Sink.open(plans.output, "results to") : Sink.stdout();
  try {
    const { kept, added } = await mergeByIndex(command.merge!, retried.captured, sink);
    await sink.commit();
    console.error(
      `crunch: merged: ${count(kept, "result")} of ${command.merge} and ${
        count(added, "retried result")
      }` +
        (plans.output ? ` in ${command.output}` : ""),
    );
  } catch (error) {
    sink.discard();
    throw error;
  }
}

/** A run with --resume: journaled beside the output, going on from the journal's last point. */
async function executeResumable(command: Command, plans: Plans): Promise<number> {
  if (plans.output === undefined) {
    throw new UsageError("--resume needs -o: the output file it goes on writing");
  }
  const paths = resumePaths(plans.output, plans.errors);
  const unlock = await takeLock(paths.lock, command.output!);
  try {
    return await resumeWith(command, plans as Plans & { output: OutputPlan }, paths);
  } finally {
    unlock();
  }
}

/** A resumable run, its output's lock held. */
async function resumeWith(
  command: Command,
  plans: Plans & { output: OutputPlan },
  paths: ResumePaths,
): Promise<number> {
  const start = await resumeStart(command, paths);
  if (start.kind === "complete") {
    if (await finishRename(paths.partial, plans.output.target)) {
      if (paths.errorsPartial) await finishRename(paths.errorsPartial, plans.errors!.target);
      console.error(`crunch: the run had completed; ${command.output} is now in place`);
    } else console.error(`crunch: nothing to resume: ${command.output} is complete`);
    return 0;
  }
  const point = start.kind === "point" ? start.point : undefined;
  // A resumable run writes in input order: what is written is always a prefix of the input's.
  const resuming: Resuming = { journal: start.journal, point };
  const sink = await Sink.resumable(plans.output, paths.partial, point?.out ?? 0, point?.outHash);
  let errorsFile: Sink | undefined;
  let reportFile: Sink | undefined;
  try {
    if (plans.report) reportFile = await Sink.open(plans.report, "the report to");
    if (plans.errors) {
      errorsFile = await Sink.resumable(
        plans.errors,
        paths.errorsPartial!,
        point?.errorsBytes ?? 0,
        point?.errorsHash,
      );
    }
    const ordered = { ...command, options: { ...command.options, ordered: true } };
    const last = await runCommand(ordered, { sink, errorsFile, reportFile }, { resuming });
    if (last) summary(command, last, point);
    return 0;
  } catch (error) {
    sink.discard();
    errorsFile?.discard();
    reportFile?.discard();
    start.journal.close();
    const stopped: Point | undefined = resuming.last ?? point;
    console.error(
      stopped
        ? `crunch: stopped; ${count(stopped.records!, "record")} done and journaled: ` +
          "the same command with --resume goes on from there"
        : "crunch: stopped before anything was journaled: the same command with --resume starts again",
    );
    throw error;
  }
}

/** A run with --resume and --output-dir: the parts committed journaled in the folder. */
async function executePartsResumable(command: Command, plans: Plans): Promise<number> {
  const start = await partsStart(command);
  if (start === undefined) {
    console.error(`crunch: nothing to resume: ${command.options.outputDir} is complete`);
    return 0;
  }
  try {
    const ordered = { ...command, options: { ...command.options, ordered: true } };
    const last = await runWith(ordered, plans, { parts: { log: start.log, point: start.point } });
    if (last) {
      summary(
        command,
        { ...last, parts: start.log.committed.length + (last.parts ?? 0) },
        start.point,
      );
    }
    return 0;
  } catch (error) {
    console.error(
      start.point
        ? "crunch: stopped; the parts up to the last point are journaled: the same command with " +
          "--resume goes on from there"
        : "crunch: stopped: the same command with --resume goes on from the parts journaled",
    );
    throw error;
  } finally {
    start.unlock();
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

/** The summary line on standard error, after the warnings; the bottleneck after a long run. */
function summary(command: Command, progress: Finished, before?: Checkpoint): void {
  const rate = progress.elapsedMs > 0 ? progress.records / (progress.elapsedMs / 1000) : 0;
  const last = withBefore(progress, before);
  const seconds = last.elapsedMs / 1000;
  // Ranges run again after a cut inside quotes are how quoted files are read, not a recovery:
  // Progress.reruns counts them, the summary does not.
  const recovery = [
    [last.retries, last.retries === 1 ? "retry" : "retries"],
    [last.respawns, last.respawns === 1 ? "respawn" : "respawns"],
    [last.isolated, "isolated"],
    [last.recycled, "recycled"],
    [last.retriedRecords ?? 0, last.retriedRecords === 1 ? "classify retry" : "classify retries"],
  ].filter(([n]) => n).map(([n, what]) => `, ${thousands(n as number)} ${what}`).join("");
  for (const warning of last.warnings ?? []) console.error(`crunch: warning: ${warning}`);
  console.error(
    `crunch: ${count(last.records, "record")} in${
      before ? ` (${thousands(before.records!)} before this run)` : ""
    }, ${count(last.results, "result")} out, ` +
      `${count(last.errors, "error")}${recovery}, ${seconds.toFixed(2)} s, ` +
      `${thousands(rate)} records/s${via(command, last)}${parts(command, progress)}`,
  );
  const report = progress.report;
  if (report && report.elapsedMs >= BOTTLENECK_AFTER_MS) {
    console.error(`crunch: ${report.bottleneck.sentence}`);
  }
}

/** Where the workers wrote the results (--output-dir), and how many parts. */
function parts(command: Command, progress: Finished): string {
  const dir = command.options.outputDir;
  if (dir === undefined) return "";
  return `; ${count(progress.parts ?? 0, "part")} in ${dir}, written by the workers`;
}

/** Runs shorter than this are mostly start-up: no bottleneck is named. */
const BOTTLENECK_AFTER_MS = 3000;

/** Where the data came from and who read it (inputs by URL), and where the tasks ran (Redis). */
function via(command: Command, progress: Progress): string {
  const redis = command.options.redis;
  const names = command.files ?? (command.input === undefined ? [] : [command.input]);
  const hosts = [...new Set(names.filter(isRemote).map(hostOf))];
  if (redis === undefined) {
    if (hosts.length === 0) return "";
    // Several files: each is read its own way (the warnings name those a server sent whole).
    const who = names.length > 1
      ? ""
      : progress.reader === "workers"
      ? ": the workers read byte ranges"
      : ": the main thread read it";
    return ` (from ${hosts.join(", ")}${who})`;
  }
  const { display } = parseRedisUrl(typeof redis === "string" ? redis : redis.url);
  const from = hosts.length ? ` from ${hosts.join(", ")}` : "";
  const data = progress.reader === "workers"
    ? `the workers read the file's byte ranges${from} themselves`
    : "the records went through Redis";
  return ` (through ${display}: ${data})`;
}

/** The server (or S3 bucket) of a URL input, for the summary. */
function hostOf(name: string): string {
  if (/^s3:/i.test(name)) return `s3://${s3Parts(name).bucket}`;
  try {
    return new URL(name).host;
  } catch {
    return name;
  }
}
