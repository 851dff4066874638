/**
 * Dispatch with retries: reads tasks from the source while the backend has
 * room, keeps each in a {@linkcode Flight} until all its records are
 * reported, and when a worker dies re-sends what it held, bisecting a task
 * that keeps killing workers until the one record that does is isolated.
 *
 * The scheduler knows no kind of task: it asks the source for tasks, hands
 * it their record counts, and carries out the {@linkcode Verdict}s the source
 * answers with (run a task again from elsewhere, drop one, read on).
 *
 * @module
 */

import type { SplitAnswer } from "../wire/protocol.ts";
import type { WorkerCrashError } from "../errors.ts";
import { InputStop, type InputTask, type TaskSource, type Verdict } from "../input/task.ts";
import type { ResultsPiece, Task, TaskCount } from "../wire/task.ts";
import type { BackendRun } from "../backends/backend.ts";
import { Flight } from "./flight.ts";
import type { Release } from "./release.ts";
import { internal } from "./internal_piece.ts";
import { Tails } from "./tails.ts";
import { Crashes } from "./crashes.ts";
import type { Stats } from "./stats.ts";
import type { ReportBuilder } from "./report_builder.ts";

/** Bytes of results waiting for the consumer above which no new task is read. */
const MAX_BACKLOG = 256 << 20;

/** What the scheduler needs to know of the run. */
export interface SchedulerOptions {
  maxRespawns: number;
  /** Tasks dispatched and not yet released that make dispatch wait. */
  maxOpen: number;
  /** About how many bytes of results wait for the consumer (released or not). */
  backlog: () => number;
  /** Gathers the run's report. */
  report?: ReportBuilder;
  /** Race a copy of a straggling task, or split it, when workers are idle (default true). */
  speculate?: boolean;
  /** A run that stops at its first error, or writes a part per task, splits no task. */
  stopOnError?: boolean;
  outputDir?: string;
}

/** Why a flight waits to be sent again. */
type Again =
  /** Its worker died (or it has bisection ranges left): a retry. */
  | "crash"
  /** It is run again from elsewhere (a range cut at the wrong place). */
  | "rerun"
  /** It was never sent: the workers were being replaced. */
  | "unsent";

/** The run's tasks from the source until their records are all reported. */
export class Scheduler {
  readonly #source: TaskSource;
  readonly #release: Release;
  readonly #stats: Stats;
  readonly #options: SchedulerOptions;
  /** Tasks in flight, by sequence number. */
  #flights = new Map<number, Flight>();
  /** Tasks to send again, first in line for the next free worker. */
  #again: { flight: Flight; why: Again }[] = [];
  #seq = 0;
  /** Worker deaths, and the streak of them without a record finished. */
  readonly #crashes: Crashes;
  #sourceDone = false;
  /** A read of the source not yet taken up. */
  #reading: Promise<{ task: InputTask | null } | { error: unknown }> | undefined;
  /** What is done about stragglers: split, or raced by copies. */
  readonly #tails: Tails | undefined;

  constructor(source: TaskSource, release: Release, stats: Stats, options: SchedulerOptions) {
    this.#source = source;
    this.#release = release;
    this.#stats = stats;
    this.#options = options;
    this.#crashes = new Crashes(stats, options.maxRespawns);
    const again = (task: InputTask) => this.#source.again(task);
    const split = !options.stopOnError && options.outputDir === undefined;
    if (options.speculate !== false) this.#tails = new Tails(stats, this.#flights, again, split);
  }

  /** True when the source is exhausted and nothing waits to be re-sent. */
  get done(): boolean {
    return this.#sourceDone && this.#again.length === 0;
  }

  /**
   * Reads and sends tasks while the backend has room; tasks to send again
   * go first. `live` says whether the run is still going (it can end while a
   * read is awaited); `interrupt` resolves when events wait to be handled,
   * which stops the wait for a read.
   */
  async dispatch(
    backend: BackendRun,
    live: () => boolean,
    interrupt: Promise<undefined>,
  ): Promise<void> {
    this.#tails?.use(backend);
    while (live() && backend.room() > 0) {
      let flight: Flight | undefined;
      const again = this.#again.shift();
      if (again) {
        flight = again.flight;
        if (again.why !== "unsent") flight.task = await this.#source.again(flight.task);
        if (again.why === "crash") this.#stats.retries++;
      } else {
        flight = await this.#read(interrupt);
        if (flight === undefined) {
          // Nothing to send now (all read, or held open behind a slow task): race stragglers.
          if (this.#again.length === 0) await this.#tails?.race(backend, live);
          return;
        }
      }
      if (!live()) return;
      if (backend.room() === 0) {
        this.#again.unshift({ flight, why: "unsent" }); // the workers are being replaced
        return;
      }
      this.#send(backend, flight);
    }
  }

  /** Resolves with `woken`, or sooner when a task in flight straggles (for the pump to race it). */
  sleep(woken: Promise<void>): Promise<void> {
    return (this.#again.length ? undefined : this.#tails?.sleep(woken)) ?? woken;
  }

  /** The next new task as a flight; undefined when there is none now. */
  async #read(interrupt: Promise<undefined>): Promise<Flight | undefined> {
    const { maxOpen, backlog } = this.#options;
    // Bounded memory: a few tasks per worker, and a bounded amount of results waiting.
    if (this.#sourceDone || this.#release.open >= maxOpen || backlog() > MAX_BACKLOG) return;
    // A read can wait long (a slow pipe): events that come meanwhile go first, and the
    // same read is taken up again at the next dispatch.
    this.#reading ??= this.#source.next().then(
      (task) => ({ task }),
      (error) => ({ error }),
    );
    const started = performance.now();
    const read = await Promise.race([this.#reading, interrupt]);
    if (this.#options.report) {
      this.#options.report.main.inputMs += performance.now() - started;
    }
    if (read === undefined) return;
    this.#reading = undefined;
    if ("error" in read) {
      if (!(read.error instanceof InputStop)) throw read.error;
      this.#sourceDone = true;
      this.#release.stop(this.#seq++, read.error.at);
      return;
    }
    if (read.task === null) {
      this.#sourceDone = true;
      return;
    }
    const flight = new Flight(this.#seq++, read.task);
    this.#source.taken(flight.seq, read.task);
    this.#flights.set(flight.seq, flight);
    this.#release.opened();
    return flight;
  }

  /** Sends a flight's current range of records. */
  #send(backend: BackendRun, flight: Flight): void {
    const { from, to } = flight.range;
    const task: Task = {
      id: flight.seq,
      body: flight.task.body,
      from: from || undefined,
      to: to === Infinity ? undefined : to,
      count: flight.crashedBefore || undefined,
    };
    flight.sent(performance.now());
    const started = performance.now();
    try {
      backend.send(task, flight.task.transfer);
    } catch (error) {
      // What the transport cannot carry (a row holding a function) is sent without it.
      flight.task = this.#source.unsendable(flight.task, error);
      backend.send({ ...task, body: flight.task.body }, flight.task.transfer);
    }
    if (this.#options.report) {
      this.#options.report.main.dispatchMs += performance.now() - started;
    }
  }

  /** The tasks in flight. */
  flights(): Iterable<Flight> {
    return this.#flights.values();
  }

  /** A piece of a task's results (of a task raced by a copy: once one of them has finished). */
  piece(piece: ResultsPiece): void {
    for (const p of this.#tails?.route(piece) ?? [piece]) this.#take(p);
  }

  #take(piece: ResultsPiece): void {
    const flight = this.#flights.get(piece.id);
    // Pieces of a task no worker holds (any more) are dropped: its work is redone.
    if (flight === undefined || flight.state === "waiting") return;
    if (flight.state === "discarded") {
      if (piece.last) this.#flights.delete(flight.seq);
      return;
    }
    if (flight.state === "superseded") {
      if (piece.last) this.#queueFresh(flight.seq, flight.next!);
      return;
    }
    if (piece.records > piece.failures.length) this.#crashes.progressed();
    if (piece.retried) this.#stats.retriedRecords += piece.retried;
    flight.took(piece, performance.now());
    const report = this.#options.report;
    if (piece.stages) report?.task(flight.seq, piece.stages, flight.records ?? flight.range.from);
    this.#release.add(internal(piece));
    if (piece.last) this.#onward(flight);
  }

  /** A flight's current range is done: the task is complete, a tail of it runs on, or what is left is sent. */
  #onward(flight: Flight): void {
    if (flight.finishRange()) return this.#complete(flight);
    if (this.#tails?.front(flight, (piece) => this.#take(piece))) return;
    this.#again.unshift({ flight, why: flight.range.split ? "rerun" : "crash" });
  }

  /** The worker of a task answered a split asked for. */
  split(answer: SplitAnswer): void {
    this.#tails?.cut(answer);
  }

  /**
   * A task's record count (and what its kind reports with it). Returns the
   * error that ends the run, if the source says one does.
   */
  count(count: TaskCount): unknown {
    const counted = this.#tails?.count(count) ?? { flight: this.#flights.get(count.id) };
    if (!("flight" in counted)) {
      // A tail that counted otherwise, holding its flight: what is left of it is sent again.
      const again = counted.again;
      if (again) {
        again.state = "waiting";
        this.#again.unshift({ flight: again, why: "rerun" });
      }
      return;
    }
    const flight = counted.flight;
    if (flight === undefined || flight.state !== "sent") return;
    count = { ...count, id: flight.seq };
    flight.startedAt ??= performance.now();
    flight.records = count.records;
    flight.lines = count.lines;
    flight.newlines = count.newlines;
    flight.alone = count.record;
    for (const verdict of this.#source.counted(count.id, count)) {
      const error = this.#apply(verdict);
      if (error !== undefined) return error;
    }
  }

  #apply(verdict: Verdict): unknown {
    switch (verdict.kind) {
      case "rerun":
        return this.#rerun(verdict.id, { body: verdict.body, transfer: [] });
      case "drop":
        return this.#drop(verdict.id);
      case "more":
        // A read begun before this belongs to what the source stopped handing out.
        this.#reading = undefined;
        this.#sourceDone = false;
        return;
      case "fail":
        return verdict.error;
    }
  }

  /** Task `seq` is run again as `task`: what it sent is dropped, and its size unknown again. */
  #rerun(seq: number, task: InputTask): void {
    this.#stats.reruns++;
    this.#release.reset(seq);
    const flight = this.#flights.get(seq);
    if (flight) this.#tails?.forget(flight);
    if (flight !== undefined && flight.state !== "waiting") {
      flight.state = "superseded"; // once its worker is done with the old one
      flight.next = task;
      return;
    }
    if (flight) this.#again = this.#again.filter((a) => a.flight !== flight);
    this.#queueFresh(seq, task);
  }

  /** Task `seq` runs as `task`, first in line (a re-run, or a superseded flight's next task). */
  #queueFresh(seq: number, task: InputTask): void {
    const fresh = new Flight(seq, task);
    this.#flights.set(seq, fresh);
    this.#again.unshift({ flight: fresh, why: "rerun" });
  }

  /** Task `seq` holds no records: drop what it sent. */
  #drop(seq: number): void {
    const flight = this.#flights.get(seq);
    if (flight) this.#tails?.forget(flight);
    if (flight !== undefined && flight.state !== "waiting") {
      flight.state = "discarded";
      flight.next = undefined;
    } else if (flight) {
      this.#flights.delete(seq);
      this.#again = this.#again.filter((a) => a.flight !== flight);
    }
    this.#release.drop(seq);
  }

  /** Every record of a flight is reported. */
  #complete(flight: Flight): void {
    this.#flights.delete(flight.seq);
    // Its worker's time, not since it was sent: tasks queued through Redis would count their wait.
    this.#tails?.finished(flight.busyMs ?? performance.now() - flight.sentAt);
    const byteEnd = this.#source.completed(flight.seq, flight.task);
    this.#release.complete(flight.seq, flight.newlines ?? 0, byteEnd);
  }

  /**
   * A worker died holding `seqs` (the one it was working on first): re-send
   * them, and bisect the first if it keeps killing workers. Returns the error
   * that ends the run when workers died too often in a row.
   */
  lost(seqs: number[], error: WorkerCrashError): WorkerCrashError | undefined {
    const flights: Flight[] = [];
    for (const id of seqs) {
      // A copy's loss hands on what its original held back; an original's is sent again below.
      const { held, flight } = this.#tails?.lost(id) ?? { held: [], flight: this.#flights.get(id) };
      for (const piece of held) this.#take(piece);
      if (flight === undefined) continue;
      if (flight.state === "discarded") this.#flights.delete(flight.seq);
      else if (flight.state === "superseded") this.#queueFresh(flight.seq, flight.next!);
      else flights.push(flight);
    }
    for (const flight of flights) {
      flight.state = "waiting";
      flight.crashedBefore = true;
    }
    const judgement = this.#crashes.died(flights[0], error);
    if (judgement.kind === "gave up") return judgement.error;
    if (judgement.kind === "poison") {
      this.#release.add(judgement.failure);
      if (flights[0].skipPoison()) this.#complete(flights.shift()!);
    }
    this.#again.unshift(...flights.map((flight) => ({ flight, why: "crash" as const })));
    return undefined;
  }
}
