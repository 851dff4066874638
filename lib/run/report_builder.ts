/**
 * Gathers a run's report as it goes: each task's stage times from its last
 * piece, the main thread's timers, and the slowest records and tasks (placed
 * by index once the ledger knows where their tasks start).
 *
 * @module
 */

import type { MainReport, RunReport, SlowRecord, SlowTask, WorkerReport } from "../report.ts";
import type { StageTimes } from "../wire/task.ts";
import type { Base, Ledger } from "./ledger.ts";
import { bottleneckOf } from "./bottleneck.ts";
import { RunTelemetry } from "./run_telemetry.ts";
import { Skew } from "./skew.ts";
import type { Backend, WorkerStart } from "../backends/backend.ts";

/** The slowest records and tasks a report keeps. */
const KEEP = 10;

/** The counts a report states, as the run's stats have them. */
export type Counts = Pick<
  RunReport,
  | "records"
  | "results"
  | "errors"
  | "retries"
  | "respawns"
  | "isolated"
  | "reruns"
  | "speculated"
  | "speculationsWon"
  | "splits"
>;

/** One run's report, as it is gathered. */
export class ReportBuilder {
  /** The main thread's timers (`consumerMs` is made at the end from `waitMs`). */
  readonly main = { inputMs: 0, dispatchMs: 0, releaseMs: 0, waitMs: 0 };
  readonly #started = performance.now();
  readonly #workers = new Map<string, WorkerReport>();
  readonly #records: SlowRecord[] = [];
  readonly #tasks: SlowTask[] = [];
  /** Slow records and tasks whose task's start is not known yet, by task. */
  readonly #unplaced = new Map<number, { stages: StageTimes; records: number }>();
  readonly #file: string | undefined;
  readonly #size: number;

  readonly #ledger: Ledger;

  readonly #telemetry: RunTelemetry | undefined;
  readonly #skew = new Skew();
  /** How long each worker took to start, where the backend says. */
  #starts: () => WorkerStart[] = () => [];

  /**
   * A report of a run over `file` on `workers` workers, its tasks numbered
   * by `ledger`; `telemetry` exports it when the run ends.
   */
  constructor(
    file: string | undefined,
    workers: number,
    ledger: Ledger,
    telemetry?: RunTelemetry,
  ) {
    this.#file = file;
    this.#size = workers;
    this.#ledger = ledger;
    this.#telemetry = telemetry;
    ledger.onBase = (seq, base) => this.#based(seq, base);
  }

  /** A report of a run over `file` on `backend`'s workers, with its telemetry when that is on. */
  static async start(
    file: string | undefined,
    backend: Backend,
    ledger: Ledger,
  ): Promise<ReportBuilder> {
    const telemetry = await RunTelemetry.start(file, backend.size);
    const builder = new ReportBuilder(file, backend.size, ledger, telemetry);
    builder.#starts = () => backend.starts?.() ?? [];
    return builder;
  }

  /** The run span's trace context for the workers, when telemetry is on. */
  get traceparent(): string | undefined {
    return this.#telemetry?.traceparent;
  }

  /** The run ended (with `error`, if it failed): its telemetry is exported. */
  finish(counts: Counts, error?: unknown): void {
    this.#telemetry?.end(this.build(counts), error);
  }

  /** The consumer waited for results from `since` to now (the time before the report began is not the run's). */
  waited(since: number): void {
    this.main.waitMs += performance.now() - Math.max(since, this.#started);
  }

  /** Task `seq` of `records` records ended, as `stages` say. */
  task(seq: number, stages: StageTimes, records: number): void {
    const name = stages.worker ?? "worker";
    let worker = this.#workers.get(name);
    if (worker === undefined) this.#workers.set(name, worker = idle(name));
    worker.tasks++;
    worker.records += records;
    worker.busyMs += stages.busy;
    this.#skew.task(name, stages.busy, records);
    const split = worker.stages;
    split.readMs += stages.read;
    split.parseMs += stages.parse;
    split.classifyMs += stages.classify;
    split.encodeMs += stages.encode;
    split.sendMs += stages.send;
    if (!this.#worthKeeping(stages)) return;
    const base = this.#ledger.start(seq);
    if (base === undefined) this.#unplaced.set(seq, { stages, records });
    else this.#place(base, stages, records);
  }

  /** Task `seq` starts at `base` (the ledger just learnt it). */
  #based(seq: number, base: Base): void {
    const waiting = this.#unplaced.get(seq);
    if (waiting === undefined) return;
    this.#unplaced.delete(seq);
    this.#place(base, waiting.stages, waiting.records);
  }

  #worthKeeping(stages: StageTimes): boolean {
    const slow = (list: { ms: number }[], ms: number) =>
      list.length < KEEP || ms > list[list.length - 1].ms;
    return slow(this.#tasks, stages.busy) || slow(this.#records, stages.slowest?.ms ?? 0);
  }

  #place(base: Base, stages: StageTimes, records: number): void {
    const file = this.#file;
    keep(this.#tasks, {
      file,
      index: base.index,
      records,
      ms: stages.busy,
      worker: stages.worker ?? "worker",
    });
    const slowest = stages.slowest;
    if (slowest === undefined) return;
    const record: SlowRecord = { file, index: base.index + slowest.offset, ms: slowest.ms };
    if (slowest.line !== undefined) record.line = base.line + slowest.line - 1;
    if (slowest.records !== undefined) record.records = slowest.records;
    keep(this.#records, record);
  }

  /** The report as it stands, for a run of `counts`. */
  build(counts: Counts): RunReport {
    const elapsedMs = performance.now() - this.#started;
    const workers = new Map(this.#workers);
    const starts = this.#starts();
    for (const { worker } of starts) if (!workers.has(worker)) workers.set(worker, idle(worker));
    const list = [...workers.values()].map((w) => {
      const start = starts.find((s) => s.worker === w.worker);
      const taskMs = this.#skew.taskMs(w.worker);
      return {
        ...w,
        ...(taskMs ? { taskMs } : {}),
        idleMs: Math.max(0, elapsedMs - w.busyMs),
        ...(start?.startMs !== undefined ? { startMs: start.startMs } : {}),
        ...(start?.initMs !== undefined ? { initMs: start.initMs } : {}),
      };
    });
    const { inputMs, dispatchMs, releaseMs, waitMs } = this.main;
    const main: MainReport = {
      inputMs,
      dispatchMs,
      releaseMs,
      consumerMs: Math.max(0, elapsedMs - waitMs),
    };
    const { records, results, errors, retries, respawns, isolated, reruns } = counts;
    const { speculated, speculationsWon, splits } = counts;
    const tail = this.#skew.tail(this.#started);
    const report = {
      version: 1 as const,
      elapsedMs,
      records,
      results,
      errors,
      retries,
      respawns,
      isolated,
      reruns,
      speculated,
      speculationsWon,
      splits,
      main,
      workers: list.sort((a, b) => a.worker.localeCompare(b.worker, "en", { numeric: true })),
      slowestRecords: [...this.#records],
      slowestTasks: [...this.#tasks],
      ...(tail ? { tail } : {}),
    };
    return { ...report, bottleneck: bottleneckOf(report, this.#size) };
  }
}

/** A worker that has run no task yet. */
function idle(name: string): WorkerReport {
  return {
    worker: name,
    tasks: 0,
    records: 0,
    busyMs: 0,
    idleMs: 0,
    stages: { readMs: 0, parseMs: 0, classifyMs: 0, encodeMs: 0, sendMs: 0 },
  };
}

/** Puts `item` in `list` (slowest first), keeping the slowest {@linkcode KEEP}. */
function keep<T extends { ms: number }>(list: T[], item: T): void {
  let at = list.findIndex((other) => other.ms < item.ms);
  if (at === -1) at = list.length;
  list.splice(at, 0, item);
  if (list.length > KEEP) list.length = KEEP;
}

/**
 * One report of runs one after another on the same workers (the files of a
 * many-files input), `elapsedMs` long in all, on `workers` workers.
 */
export function mergeReports(reports: RunReport[], elapsedMs: number, workers: number): RunReport {
  const byName = new Map<string, WorkerReport>();
  for (const w of reports.flatMap((r) => r.workers)) {
    const into = byName.get(w.worker);
    if (into === undefined) {
      byName.set(w.worker, { ...w, stages: { ...w.stages } });
      continue;
    }
    into.tasks += w.tasks;
    into.records += w.records;
    into.busyMs += w.busyMs;
    for (const key of Object.keys(w.stages) as (keyof WorkerReport["stages"])[]) {
      into.stages[key] += w.stages[key];
    }
  }
  const sum = (pick: (r: RunReport) => number) => reports.reduce((n, r) => n + pick(r), 0);
  const slowest = <T extends { ms: number }>(lists: T[][]) =>
    lists.flat().sort((a, b) => b.ms - a.ms).slice(0, KEEP);
  const report = {
    version: 1 as const,
    elapsedMs,
    records: sum((r) => r.records),
    results: sum((r) => r.results),
    errors: sum((r) => r.errors),
    retries: sum((r) => r.retries),
    respawns: sum((r) => r.respawns),
    isolated: sum((r) => r.isolated),
    reruns: sum((r) => r.reruns),
    speculated: sum((r) => r.speculated),
    speculationsWon: sum((r) => r.speculationsWon),
    splits: sum((r) => r.splits),
    main: {
      inputMs: sum((r) => r.main.inputMs),
      dispatchMs: sum((r) => r.main.dispatchMs),
      releaseMs: sum((r) => r.main.releaseMs),
      consumerMs: sum((r) => r.main.consumerMs),
    },
    workers: [...byName.values()].map((w) => ({ ...w, idleMs: Math.max(0, elapsedMs - w.busyMs) })),
    slowestRecords: slowest(reports.map((r) => r.slowestRecords)),
    slowestTasks: slowest(reports.map((r) => r.slowestTasks)),
  };
  return { ...report, bottleneck: bottleneckOf(report, workers) };
}
