/**
 * Splitting a straggling task in flight: when no task waits and workers are
 * idle, the worker of a task that has run long is asked to share what it
 * has not started among itself and the idle workers
 * ({@linkcode BackendRun.split}). It cuts at record boundaries (it knows
 * where it is), keeps the first part, and answers with the cuts. Each later
 * part is sent, as a tail under an id of its own, to an idle worker, which
 * reads the same task and classifies only its part's records. A tail must
 * count the task's records as its first worker did (verified like any
 * cut); its pieces wait until every record before its part is reported,
 * then go on as the task's own, so the task's outcome is what one worker
 * would have sent.
 *
 * A tail whose worker dies leaves its records to be sent again once every
 * record before them is reported; one that holds its task by then (its part
 * in front) is lost as any task is.
 *
 * @module
 */

import type { BackendRun } from "../backends/backend.ts";
import type { InputTask } from "../input/task.ts";
import type { ResultsPiece, TaskCount } from "../wire/task.ts";
import type { SplitAnswer } from "../wire/protocol.ts";
import type { Flight, Range } from "./flight.ts";

/** Tails' ids start here, far above any task's number and any race's copy. */
const TAIL_IDS = 2 ** 41;
/**
 * Parts asked for per worker that can take one now (the worker makes fewer
 * where each would hold little work): the workers that finish first take
 * the parts left, so the slowest part sets the end, not the first cut.
 */
const SPREAD = 4;

/** A later part of a split task, run by another worker. */
interface Tail {
  id: number;
  flight: Flight;
  /** The range of the flight it runs (the same object as in `flight.ranges`). */
  range: Range;
  /** Its pieces, held until its part is in front. */
  held: ResultsPiece[];
  /** When it was sent (0: it waits for a worker). */
  sentAt: number;
  /** Its last piece came. */
  done: boolean;
}

/** Where a flight asked to split stands. */
export interface SplitStage {
  /** When it was last asked (or refused). */
  at: number;
  /** Its worker refused (too little left): how long it said that would take, ms. */
  leftMs?: number;
  /** Its answer is awaited. */
  asked: boolean;
  /**
   * A tail of it still runs: it is split again while one does (its records
   * are slow wherever they run); once none does, its own worker is the slow
   * one, and it is raced instead if it straggles still.
   */
  running: boolean;
}

/** A split asked for: the flight, and the bodies its tails will carry. */
interface Asked {
  flight: Flight;
  bodies: InputTask[];
}

/** The split tasks of one run. */
export class Splits {
  readonly #tails = new Map<number, Tail>();
  /** Splits asked for and not answered yet, by task number. */
  readonly #asked = new Map<number, Asked>();
  /** Tails waiting for a worker, first in line first. */
  #waiting: Tail[] = [];
  /** When each flight was last asked to split; if its worker refused, how long it had left. */
  readonly #history = new WeakMap<Flight, { at: number; leftMs?: number }>();
  #nextId = TAIL_IDS;
  readonly #stats: { splits: number };
  /** A task's body again (a chunk's bytes went to its first worker). */
  readonly #again: (task: InputTask) => Promise<InputTask>;
  #backend: BackendRun | undefined;

  /** Splits counted in `stats`, each tail's body read `again`. */
  constructor(stats: { splits: number }, again: (task: InputTask) => Promise<InputTask>) {
    this.#stats = stats;
    this.#again = again;
  }

  /**
   * True while `flight` is not to be raced: a split of it was asked for and
   * not answered (its worker's answer is what its records hang on), or a
   * tail holds it (its part is in front).
   */
  busy(flight: Flight): boolean {
    return flight.range.tail !== undefined || this.#asked.has(flight.seq);
  }

  /**
   * Where `flight` stands with splits: never asked (undefined), or as
   * {@linkcode SplitStage} says.
   */
  stage(flight: Flight): SplitStage | undefined {
    const history = this.#history.get(flight);
    if (history === undefined) return undefined;
    const running = history.leftMs === undefined &&
      flight.ranges.some((range) => range.tail !== undefined && !this.#tails.get(range.tail)?.done);
    return { ...history, asked: this.#asked.has(flight.seq), running };
  }

  /**
   * Asks the worker of `flight` to split it among itself and `backend`'s
   * idle workers, where the backend can: a flight never split, or one with
   * a tail still running. Resolves with whether it asked.
   */
  async split(flight: Flight, backend: BackendRun): Promise<boolean> {
    const idle = Math.min(backend.idle?.() ?? 0, backend.room());
    if (idle === 0 || !backend.split || !this.#splittable(flight)) return false;
    const bodies = [];
    for (let k = 0; k < idle; k++) bodies.push(await this.#again(flight.task));
    // It may have ended meanwhile.
    if (flight.state !== "sent" || !this.#splittable(flight)) return false;
    this.#backend = backend;
    this.#asked.set(flight.seq, { flight, bodies });
    this.#history.set(flight, { at: performance.now() });
    // More parts than idle workers: the others take theirs as they finish what they hold.
    backend.split(flight.seq, (idle + 1) * SPREAD);
    return true;
  }

  #splittable(flight: Flight): boolean {
    if (this.busy(flight)) return false;
    const stage = this.stage(flight);
    return stage === undefined || stage.running;
  }

  /**
   * The worker of task `id` answered: it stops before `cuts[0]`, and each
   * `[cuts[k], cuts[k + 1])` goes to an idle worker while one has room (the
   * rest, if any, is sent in its turn). No cuts (too little left): it is
   * raced if it still runs a while later.
   */
  cut(answer: SplitAnswer): void {
    const { task: id, cuts, records } = answer;
    const asked = this.#asked.get(id);
    this.#asked.delete(id);
    const backend = this.#backend;
    if (asked === undefined || backend === undefined) return;
    const { flight, bodies } = asked;
    if (cuts.length === 0) {
      this.#history.set(flight, { at: performance.now(), leftMs: answer.leftMs ?? 0 });
      return;
    }
    flight.records ??= records;
    flight.range.to = cuts[0];
    const parts: Range[] = [];
    for (let k = 0; k < cuts.length - 1; k++) {
      const range: Range = { from: cuts[k], to: cuts[k + 1], attempts: 0, split: true };
      const tail: Tail = { id: this.#nextId++, flight, range, held: [], sentAt: 0, done: false };
      range.tail = tail.id;
      this.#tails.set(tail.id, tail);
      parts.push(range);
      const body = bodies.shift();
      if (body && backend.room() > 0) this.#send(tail, body);
      else this.#waiting.push(tail);
    }
    flight.ranges.splice(1, 0, ...parts);
    this.#stats.splits++;
  }

  #send(tail: Tail, { body, transfer }: InputTask): void {
    tail.sentAt = performance.now();
    const { from, to } = tail.range;
    this.#backend!.send({ id: tail.id, body, from, to }, transfer);
  }

  /** Sends tails waiting for a worker while `backend` has idle ones (or room, where it cannot say). */
  async send(backend: BackendRun, live: () => boolean): Promise<void> {
    while (this.#waiting.length && live() && backend.room() > 0 && backend.idle?.() !== 0) {
      const tail = this.#waiting.shift()!;
      if (this.#tails.get(tail.id) !== tail || this.#inFront(tail)) continue;
      const body = await this.#again(tail.flight.task);
      if (live() && this.#tails.get(tail.id) === tail && backend.room() > 0) this.#send(tail, body);
    }
  }

  /**
   * The pieces to hand on for `piece`: itself (not a tail's); none (a tail's,
   * held until its part is in front); or, in front, itself as the task's own.
   */
  route(piece: ResultsPiece): ResultsPiece[] {
    const tail = this.#tails.get(piece.id);
    if (tail === undefined) return [piece];
    // The task's first worker reported its text's undecodable bytes already.
    const own = { ...piece, id: tail.flight.seq, invalid: undefined };
    if (piece.last) tail.done = true;
    if (!this.#inFront(tail)) {
      tail.held.push(own);
      return [];
    }
    if (piece.last) this.#tails.delete(tail.id);
    return [own];
  }

  #inFront(tail: Tail): boolean {
    return tail.flight.range === tail.range && tail.flight.state === "sent";
  }

  /**
   * A count of a tail: it must count the task's records as its first worker
   * did, or its part is dropped and sent again later. True for a tail's
   * count (taken here), false for any other; the flight when the dropped
   * tail held it (it is to be sent again now).
   */
  count(count: TaskCount): boolean | Flight {
    const tail = this.#tails.get(count.id);
    if (tail === undefined) return false;
    const { records, newlines } = tail.flight;
    const same = count.records === records &&
      (newlines === undefined || count.newlines === undefined || count.newlines === newlines) &&
      (count.cut === undefined || count.cut.clean);
    if (same) return true;
    const front = this.#inFront(tail);
    this.#drop(tail);
    return front ? tail.flight : true;
  }

  /** `flight` is run again from elsewhere, or dropped: its tails are dropped. */
  forget(flight: Flight): void {
    for (const tail of [...this.#tails.values()]) if (tail.flight === flight) this.#drop(tail);
    this.#asked.delete(flight.seq);
  }

  /**
   * Every record before `flight`'s next range is reported: when a live tail
   * runs that range, it holds the flight from now on, and its pieces held so
   * far go to `take`. False when the range is to be sent again.
   */
  front(flight: Flight, take: (piece: ResultsPiece) => void): boolean {
    const id = flight.range.tail;
    const tail = id === undefined ? undefined : this.#tails.get(id);
    if (tail === undefined) return false;
    if (tail.sentAt === 0) {
      // Never sent: its records go as the task's own, as any range sent again.
      this.#tails.delete(tail.id);
      flight.range.tail = undefined;
      return false;
    }
    flight.sent(tail.sentAt);
    flight.progressAt = performance.now();
    const held = tail.held;
    tail.held = [];
    if (tail.done) this.#tails.delete(tail.id);
    for (const piece of held) take(piece);
    return true;
  }

  /**
   * The worker of task `id` died: the flight's number when that was a tail
   * holding its flight (the flight is lost as any is), undefined when it was
   * a tail behind (its records are sent again in their turn), else `id`.
   */
  lost(id: number): number | undefined {
    this.#asked.delete(id); // no answer will come
    const tail = this.#tails.get(id);
    if (tail === undefined) return id;
    const front = this.#inFront(tail);
    this.#tails.delete(id);
    tail.range.tail = undefined;
    return front ? tail.flight.seq : undefined;
  }

  /** Drops `tail`: its worker stops it, and what it sent or sends is dropped. */
  #drop(tail: Tail): void {
    this.#tails.delete(tail.id);
    tail.range.tail = undefined;
    this.#backend?.cancel?.(tail.id);
  }
}
