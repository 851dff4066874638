/**
 * Speculative tails: when no task waits and a worker has room, a task that
 * has run much longer than the run's typical task (3 times the median of
 * the tasks finished so far, and a second at least) is sent again, as a
 * copy under an id of its own, to another worker. From then on what either
 * sends of it is held back; the first to finish wins, and its pieces are
 * handed on as the task's own; the other's are dropped unseen (no result,
 * error, count or report entry twice). A copy whose worker dies ends the
 * race (the original goes on); an original whose worker dies ends it too
 * (it is sent again as any lost task is, from where its released records
 * end).
 *
 * @module
 */

import type { BackendRun } from "../backends/backend.ts";
import type { InputTask } from "../input/task.ts";
import type { ResultsPiece, Task } from "../wire/task.ts";
import type { Flight } from "./flight.ts";
import type { Splits } from "./splits.ts";

/** A straggler: this many times the median task time... */
const FACTOR = 3;
/** ...and at least this long (ms). */
const MIN_MS = 1000;
/** Tasks finished before the median is trusted. */
const MIN_FINISHED = 3;
/** Copies' ids start here, far above any task's sequence number. */
const COPY_IDS = 2 ** 40;
/** Finished task times kept for the median. */
const KEEP = 256;

/** A task and its copy, racing. */
interface Race {
  flight: Flight;
  copy: number;
  /** Who held the task when the race began. */
  holder?: string;
  /** What each has sent since the race began, held back until one finishes. */
  original: ResultsPiece[];
  copied: ResultsPiece[];
}

/** The races of one run. */
export class Speculation {
  readonly #times: number[] = [];
  /** The limit from `#times`, made once after each change (null: to be made). */
  #limitMs: number | undefined | null = null;
  readonly #races = new Map<number, Race>();
  readonly #copies = new Map<number, Race>();
  /** Workers whose task a copy beat: their tasks are raced as soon as a worker is idle. */
  readonly #slow = new Set<string>();
  #nextCopy = COPY_IDS;
  /** Counts the copies sent and the races they won. */
  readonly #stats: { speculated: number; speculationsWon: number };

  /** The run's tasks in flight. */
  readonly #flights: ReadonlyMap<number, Flight>;
  /** A task's body again (a chunk's bytes went to its first worker). */
  readonly #again: (task: InputTask) => Promise<InputTask>;
  /** The run's workers, as the last race had them. */
  #backend: BackendRun | undefined;
  /** Stragglers on workers not known to be slow are split where they can be. */
  readonly #splits: Splits | undefined;

  /**
   * Races among `flights`, each copy's body read `again`, counted in
   * `stats`; a straggler is split by `splits` instead where it can be.
   */
  constructor(
    stats: { speculated: number; speculationsWon: number },
    flights: ReadonlyMap<number, Flight>,
    again: (task: InputTask) => Promise<InputTask>,
    splits?: Splits,
  ) {
    this.#stats = stats;
    this.#flights = flights;
    this.#again = again;
    this.#splits = splits;
  }

  #holder = (seq: number) => this.#backend?.holder?.(seq);

  /** A task ended `ms` after it was sent. */
  finished(ms: number): void {
    this.#times.push(ms);
    if (this.#times.length > KEEP) this.#times.shift();
    this.#limitMs = null;
  }

  /** How long a task may run before a copy of it is sent, once enough tasks finished. */
  #limit(): number | undefined {
    if (this.#limitMs !== null) return this.#limitMs;
    const median = this.#median();
    return this.#limitMs = median === undefined ? undefined : Math.max(MIN_MS, FACTOR * median);
  }

  /** The median time of the tasks finished, once enough did. */
  #median(): number | undefined {
    return this.#times.length < MIN_FINISHED ? undefined : median(this.#times);
  }

  /** The longest-running flight that straggles now and races nothing, if one does. */
  straggler(now: number): Flight | undefined {
    let chosen: Flight | undefined;
    for (const flight of this.#flights.values()) {
      const due = this.#due(flight);
      if (due === undefined || now < due) continue;
      if (chosen === undefined || flight.sentAt < chosen.sentAt) chosen = flight;
    }
    return chosen;
  }

  /**
   * When `flight` straggles, if it can be raced: its time counts from when
   * it was sent, or, where tasks queue before a worker starts them (Redis),
   * from its first count or piece (a task still queued is not raced: racing
   * every task of a long queue would only double the work), unless its
   * worker is known to be slow. A task queued in a worker behind a
   * straggler is raced (moved, in effect: the copy's win cancels it there).
   */
  #due(flight: Flight): number | undefined {
    if (!this.#racable(flight)) return undefined;
    const slow = this.#slow.size > 0 && this.#slow.has(this.#holder(flight.seq) ?? "");
    const queued = this.#backend?.queues && !slow;
    const start = flight.startedAt ?? (queued ? undefined : flight.sentAt);
    if (start === undefined) return undefined;
    const limit = this.#limit();
    const due = slow ? start : limit === undefined ? undefined : start + limit;
    const split = this.#splits?.stage(flight);
    if (split === undefined || due === undefined || split.running) return due;
    // Too little left to split, by its worker's pace: raced at once if a copy would be sooner.
    if (split.leftMs !== undefined && split.leftMs > this.#median()!) return split.at;
    // Split before, and no tail of it runs (or so it said): raced if it runs a while longer.
    return Math.max(due, split.at + (limit ?? MIN_MS));
  }

  /**
   * Resolves with `woken`, or when a flight will straggle, if one can and a
   * worker has room to race it (else `woken` itself: most waits arm no timer).
   */
  sleep(woken: Promise<void>): Promise<void> {
    if (this.#limit() === undefined && this.#slow.size === 0) return woken;
    const backend = this.#backend;
    if (!backend || backend.room() === 0 || backend.idle?.() === 0) return woken;
    let at = Infinity;
    for (const flight of this.#flights.values()) at = Math.min(at, this.#due(flight) ?? at);
    if (at === Infinity) return woken;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const due = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(1, at - performance.now() + 1));
    });
    return Promise.race([woken, due]).finally(() => clearTimeout(timer));
  }

  /**
   * A flight held by its own worker, with one range of records left (and
   * parts split off, if any), and no race yet.
   */
  #racable(flight: Flight): boolean {
    return flight.state === "sent" && !flight.crashedBefore && !this.#splits?.busy(flight) &&
      flight.ranges.every((range, k) => k === 0 || range.split) && !this.#races.has(flight.seq);
  }

  /**
   * The flight a count of task `id` counts: a copy's task until it is
   * counted (by whichever of the two counts first); undefined for a count
   * that comes second or a task that races nothing (counted as usual).
   */
  counting(id: number): Flight | undefined {
    const flight = (this.#copies.get(id) ?? this.#races.get(id))?.flight;
    if (flight === undefined) return this.#flights.get(id);
    return flight.records === undefined ? flight : undefined;
  }

  /** Starts a race for `flight`, whose copy carries `body`: the copy's task. */
  start(flight: Flight, body: Task["body"], holder?: string): Task {
    const race: Race = { flight, copy: this.#nextCopy++, holder, original: [], copied: [] };
    this.#races.set(flight.seq, race);
    this.#copies.set(race.copy, race);
    this.#stats.speculated++;
    const { from, to } = flight.range;
    return {
      id: race.copy,
      body,
      from: from || undefined,
      to: to === Infinity ? undefined : to,
    };
  }

  /**
   * The pieces to hand on for `piece`: itself (no race), none (held back, or
   * the loser's), or, when it ends a race, the winner's pieces renumbered as
   * the task's own.
   */
  route(piece: ResultsPiece): ResultsPiece[] {
    const copy = this.#copies.get(piece.id);
    const race = copy ?? this.#races.get(piece.id);
    if (race === undefined) return [piece];
    (copy ? race.copied : race.original).push(piece);
    if (!piece.last) return [];
    // The first to finish wins; the other is dropped (what still comes of it: unseen).
    this.#forget(race);
    this.#backend?.cancel?.(copy ? race.flight.seq : race.copy);
    if (copy) {
      this.#stats.speculationsWon++;
      if (race.holder !== undefined) {
        this.#slow.add(race.holder);
        this.#backend?.slow?.(race.holder);
      }
    }
    return (copy ? race.copied : race.original).map((p) => ({ ...p, id: race.flight.seq }));
  }

  /**
   * Sends a copy of each straggler among `flights` while `backend` has room
   * (a chunk's bytes read `again`: they went to the first worker).
   */
  async race(backend: BackendRun, live: () => boolean): Promise<void> {
    this.use(backend);
    await this.#splits?.send(backend, live);
    while (live() && backend.room() > 0) {
      const flight = this.straggler(performance.now());
      if (flight === undefined) return;
      // A task its worker has started is split among the idle workers where it can be (a
      // worker known to be slow keeps a small part); a task queued behind another is raced.
      const started = flight.startedAt !== undefined;
      if (started && await this.#splits?.split(flight, backend)) continue;
      // A copy where no worker is idle would only wait in a queue.
      if (backend.idle?.() === 0) return;
      const { body, transfer } = await this.#again(flight.task);
      if (!live() || flight.state !== "sent") return;
      backend.send(this.start(flight, body, this.#holder(flight.seq)), transfer);
    }
  }

  /** The run's workers are `backend`'s. */
  use(backend: BackendRun): void {
    this.#backend = backend;
  }

  /**
   * The worker holding `id` died. A copy's death ends its race: what the
   * original held back is handed on. An original's death ends its race: the
   * task is sent again as any lost task is, and its copy's pieces dropped.
   */
  lost(id: number): ResultsPiece[] {
    const copy = this.#copies.get(id);
    const race = copy ?? this.#races.get(id);
    if (race === undefined) return [];
    this.#forget(race);
    return copy ? race.original : [];
  }

  #forget(race: Race): void {
    this.#races.delete(race.flight.seq);
    this.#copies.delete(race.copy);
  }
}

/** The median of `values` (not empty). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}
