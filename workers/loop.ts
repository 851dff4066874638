/**
 * The work loop of a crunch worker, whatever carries its messages (a Web
 * Worker's `postMessage`, a worker process's pipes): it loads the plug-in
 * once, then turns each task it is sent into rows (`kinds/`), classifies
 * them (`classify.ts`) and sends their outcomes back in pieces, the last
 * one ending the task.
 *
 * Tasks are queued and worked one at a time with a hop through the event
 * loop between them, so `cancel` and `terminate()` take effect promptly even
 * under a steady stream of work.
 *
 * @module
 */

import type { TaskMessage, ToWorker } from "../lib/wire/protocol.ts";
import { serializeError } from "../lib/wire/task.ts";
import { Classifier } from "./classify.ts";
import { msPerRecord, type Progress, splitCuts } from "./split_cuts.ts";
import { CurrentRun, ParserCache } from "./current_run.ts";
import { type KindTools, taskRows } from "./kinds/mod.ts";
import { StageClock } from "./stage_clock.ts";
import { initSpan } from "./telemetry.ts";
import { loadPlugin, type Plugin } from "./load_plugin.ts";
import { TaskOutcomes } from "./outcomes.ts";
import { Pacer } from "./pacer.ts";
import { PieceBuilder } from "./piece.ts";
import { ParquetCodecs } from "./parquet_codecs.ts";
import { RangeReader } from "./range_reader.ts";
import type { WorkerTransport } from "./transport.ts";

export type { WorkerTransport } from "./transport.ts";

/** One worker's loop: its plug-in, its current run, and its queue of tasks. */
export class WorkLoop {
  readonly #transport: WorkerTransport;
  readonly #queue: (TaskMessage | { type: "close" })[] = [];
  readonly #parsers = new ParserCache();
  readonly #classifier = new Classifier();
  readonly #pacer = new Pacer();
  /** The file of the current run's ranges, kept open while work keeps coming. */
  readonly #tools: KindTools = { ranges: new RangeReader(), codecs: new ParquetCodecs() };
  /** The plug-in, loaded and not yet initialised. */
  #loaded: Plugin | undefined;
  /** The plug-in, once its init has run. */
  #plugin: Plugin | undefined;
  #run: CurrentRun | undefined;
  #draining = false;
  /** Tasks of the current run that lost a race: stopped (or never started), nothing sent. */
  #dropped = new Set<number>();
  /** Where the current run's task under way is, and is to stop (a split lowers it). */
  #bounds = new Map<number, Progress & { records: number }>();
  /** What prepare() returned in this worker, kept for its init (see PrepareMessage.keep). */
  #kept: unknown;

  /** A loop that talks through `transport`. */
  constructor(transport: WorkerTransport) {
    this.#transport = transport;
  }

  /** Takes one message from the main side. */
  handle(message: ToWorker): void {
    switch (message.type) {
      case "load":
        this.#load(message.module);
        break;
      case "prepare":
        this.#prepare(message.spec, message.keep === true);
        break;
      case "init":
        this.#init(message.spec, message.context);
        break;
      case "run":
        this.#run = new CurrentRun(message, this.#parsers);
        this.#dropped.clear();
        this.#bounds.clear();
        break;
      case "update":
        if (this.#run?.id === message.run) {
          this.#run.settings.outputColumns = message.outputColumns;
        }
        break;
      case "cancel":
        this.#cancel(message.run, message.task);
        break;
      case "split":
        if (this.#run?.id === message.run) this.#split(message.run, message.task, message.parts);
        break;
      case "task":
      case "close":
        this.#queue.push(message);
        this.#drain();
        break;
    }
  }

  /** Reports an error that escaped outside classify (a timer, a stray promise), then ends. */
  fatal(error: unknown): void {
    this.#transport.send({ type: "fatal", error: serializeError(error) });
    this.#transport.exit();
  }

  /** Forgets the queued tasks of `run` (and the run itself), or only `task` of it. */
  #cancel(run: number, task?: number): void {
    if (task === undefined && this.#run?.id === run) this.#run = undefined;
    if (task !== undefined) this.#dropped.add(task); // stops at its next record if it runs
    const queue = this.#queue;
    for (let k = queue.length - 1; k >= 0; k--) {
      const queued = queue[k];
      if (queued.type === "close" || queued.run !== run) continue;
      if (task === undefined || queued.task.id === task) queue.splice(k, 1);
    }
  }

  /**
   * Splits what task `id` has not started among `parts` workers: it keeps
   * the first part. No cuts when it is not under way, or too little is left.
   */
  #split(run: number, id: number, parts: number): void {
    const bound = this.#bounds.get(id);
    const now = performance.now();
    const cuts = bound ? splitCuts(bound, parts, now) : [];
    if (cuts.length) bound!.to = cuts[0];
    const records = bound?.records ?? 0;
    // Too little left to split: how long it is yet to take, for main to weigh a race.
    const leftMs = bound && !cuts.length
      ? Math.min((bound.to - bound.at) * msPerRecord(bound, now), 2 ** 31)
      : undefined;
    this.#transport.send({ type: "split", run, task: id, cuts, records, leftMs });
  }

  async #load(module: string): Promise<void> {
    const result = await loadPlugin(module);
    if (!result.ok) {
      const { stage, error, exports } = result;
      this.#transport.send({ type: "load-failed", stage, error, exports });
      return;
    }
    this.#loaded = result.plugin;
    this.#transport.send({ type: "loaded", exports: result.exports });
  }

  /** Calls the plug-in's prepare(spec) and sends what it returns. */
  async #prepare(spec: unknown, keep: boolean): Promise<void> {
    let shared: unknown;
    try {
      shared = await this.#loaded!.prepare?.(spec);
    } catch (error) {
      this.#transport.send({
        type: "prepare-failed",
        stage: "threw",
        error: serializeError(error),
      });
      return;
    }
    try {
      if (keep) {
        // Kept here, but held to what threads could be sent (a SharedArrayBuffer is shared).
        structuredClone(shared);
        this.#kept = shared;
        this.#transport.send({ type: "prepared", shared: undefined });
      } else this.#transport.send({ type: "prepared", shared });
    } catch (error) {
      this.#transport.send({ type: "prepare-failed", stage: "send", error: serializeError(error) });
    }
  }

  async #init(spec: unknown, context: unknown): Promise<void> {
    try {
      if (this.#kept !== undefined) (context as { shared?: unknown }).shared = this.#kept;
      const index = (context as { workerIndex?: number }).workerIndex;
      await initSpan(index, async () => await this.#loaded!.init?.(spec, context as never));
    } catch (error) {
      this.#transport.send({ type: "init-failed", error: serializeError(error) });
      return;
    }
    this.#plugin = this.#loaded;
    this.#transport.send({ type: "ready" });
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#queue.length) {
        const message = this.#queue.shift()!;
        if (message.type === "close") {
          await this.#close();
          return;
        }
        await this.#work(message);
        await this.#pacer.yield();
      }
    } finally {
      this.#tools.ranges.close(); // out of work: no file stays open while the pool idles
      this.#draining = false;
    }
  }

  async #close(): Promise<void> {
    try {
      await this.#plugin?.close?.();
      this.#transport.send({ type: "closed" });
    } catch (error) {
      this.#transport.send({ type: "closed", error: serializeError(error) });
    }
  }

  /** Works one task: its rows, its count when asked for, its outcomes. */
  async #work(message: TaskMessage): Promise<void> {
    const { task } = message;
    const plugin = this.#plugin;
    if (plugin === undefined) {
      // Never meant to happen; dropping the task would leave the main side waiting for it
      // forever, so die loudly instead: the task is retried on a fresh worker.
      this.fatal(new Error(`task ${task.id} of run ${message.run} came before init finished`));
      return;
    }
    const run = this.#run;
    // A task of a cancelled or finished run: nobody waits for it.
    if (run === undefined || run.id !== message.run) return;
    const clock = new StageClock();
    const rows = await taskRows(task.body, run, this.#tools, clock);
    const live = () => this.#run === run && !this.#dropped.has(task.id);
    if (!live()) return; // cancelled while the range was fetched
    if (task.count || rows.cut) {
      this.#transport.send({
        type: "count",
        run: run.id,
        count: {
          id: task.id,
          records: rows.rows.length,
          lines: task.count ? rows.lines : undefined,
          newlines: rows.newlines,
          // A task sent for one record alone is a suspect: its record goes along for the error.
          record: task.count && task.to === (task.from ?? 0) + 1
            ? rows.rows[task.from ?? 0]
            : undefined,
          cut: rows.cut,
        },
      });
    }
    if (!rows.classify) {
      // Counted only (a cut that guessed wrong): main reads these records again itself.
      new PieceBuilder(0).send(this.#transport, run, task.id, 0, rows.rows, rows.lines, 0);
      return;
    }
    const from = task.from ?? 0;
    const to = Math.min(task.to ?? rows.rows.length, rows.rows.length);
    const setupMs = clock.read + clock.parse; // what a part of it costs another worker first
    const records = rows.rows.length;
    const bound = { from, at: from, to, records, startedAt: performance.now(), setupMs };
    this.#bounds.set(task.id, bound);
    const outcomes = new TaskOutcomes(
      this.#transport,
      run,
      task.id,
      rows,
      from,
      this.#pacer,
      live,
      clock,
    );
    clock.classifying(from);
    const stop = await this.#classifier.run({
      plugin,
      rows: rows.rows,
      from,
      to,
      bad: rows.bad,
      only: rows.select,
      concurrency: run.settings.concurrency ?? 1,
      batchRecords: run.batchRecords,
      stopOnError: run.settings.stopOnError,
      retry: run.retry,
      rate: run.gate,
      bound,
    }, outcomes);
    this.#bounds.delete(task.id);
    if (!live()) return; // cancelled meanwhile
    await outcomes.finish(stop);
    if (run.spans) (await run.spans)?.task(task.id, stop - from, clock);
  }
}
