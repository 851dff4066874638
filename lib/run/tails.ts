/**
 * The end of a run: what is done about tasks that straggle once no task
 * waits. A task its worker has started is split among the idle workers
 * ({@linkcode Splits}); one queued behind another, or left too long after a
 * split, is raced by a copy ({@linkcode Speculation}). This is their one
 * face to the scheduler: the pieces, counts and deaths of copies and tails
 * are taken here and handed on as their task's own.
 *
 * @module
 */

import type { BackendRun } from "../backends/backend.ts";
import type { InputTask } from "../input/task.ts";
import type { SplitAnswer } from "../wire/protocol.ts";
import type { ResultsPiece, TaskCount } from "../wire/task.ts";
import type { Flight } from "./flight.ts";
import { Speculation } from "./speculation.ts";
import { Splits } from "./splits.ts";

/** What a count is, as the tails see it. */
export type Counted =
  /** The count of `flight` (a copy's, or the task's own): count it. */
  | { flight: Flight | undefined }
  /** A tail's count, taken here; with `again`, the flight its tail held, to send again. */
  | { again?: Flight };

/** The copies and tails of one run's stragglers. */
export class Tails {
  readonly #speculation: Speculation;
  readonly #splits: Splits | undefined;
  readonly #flights: ReadonlyMap<number, Flight>;

  /** Stragglers among `flights`, their bodies read `again`, split too where `split`. */
  constructor(
    stats: { speculated: number; speculationsWon: number; splits: number },
    flights: ReadonlyMap<number, Flight>,
    again: (task: InputTask) => Promise<InputTask>,
    split: boolean,
  ) {
    this.#flights = flights;
    this.#splits = split ? new Splits(stats, again) : undefined;
    this.#speculation = new Speculation(stats, flights, again, this.#splits);
  }

  /** The pieces to take for `piece`, as their task's own (none while held back). */
  route(piece: ResultsPiece): ResultsPiece[] {
    const splits = this.#splits;
    const pieces = this.#speculation.route(piece);
    return splits ? pieces.flatMap((p) => splits.route(p)) : pieces;
  }

  /** What count `count` is. */
  count(count: TaskCount): Counted {
    const tail = this.#splits?.count(count);
    if (tail) return tail === true ? {} : { again: tail };
    // A raced task is counted once, by whichever of it and its copy counts first.
    return { flight: this.#speculation.counting(count.id) };
  }

  /**
   * The worker holding task `id` died: the pieces a copy's original held
   * back (to take now), and the flight lost with it, if any.
   */
  lost(id: number): { held: ResultsPiece[]; flight: Flight | undefined } {
    const held = this.#speculation.lost(id);
    // A tail's loss is its flight's when it held it; one behind leaves its records for later.
    const seq = this.#splits ? this.#splits.lost(id) : id;
    return { held, flight: seq === undefined ? undefined : this.#flights.get(seq) };
  }

  /** A worker answered a split. */
  cut(answer: SplitAnswer): void {
    this.#splits?.cut(answer);
  }

  /** `flight`'s next range is in front: true when a tail of it runs that range (see {@linkcode Splits.front}). */
  front(flight: Flight, take: (piece: ResultsPiece) => void): boolean {
    return this.#splits?.front(flight, take) ?? false;
  }

  /** `flight` is run again from elsewhere, or dropped. */
  forget(flight: Flight): void {
    this.#splits?.forget(flight);
  }

  /** A task ended `ms` after its worker began it. */
  finished(ms: number): void {
    this.#speculation.finished(ms);
  }

  /** The run's workers are `backend`'s. */
  use(backend: BackendRun): void {
    this.#speculation.use(backend);
  }

  /** Splits or races stragglers while `backend` has idle workers. */
  race(backend: BackendRun, live: () => boolean): Promise<void> {
    return this.#speculation.race(backend, live);
  }

  /** Resolves with `woken`, or sooner when a task in flight straggles. */
  sleep(woken: Promise<void>): Promise<void> {
    return this.#speculation.sleep(woken);
  }
}
