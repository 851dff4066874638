/**
 * What a worker's death means for the run: the task it was working on is
 * judged (sent again, split in halves, or its one record found to be the
 * culprit: {@linkcode Flight.crashed}), and deaths in a row without a record
 * finished are counted, until there are more than `maxRespawns` and the run
 * gives up.
 *
 * @module
 */

import { WorkerCrashError } from "../errors.ts";
import type { Failure } from "../wire/task.ts";
import type { Flight } from "./flight.ts";
import type { Piece } from "./release.ts";
import type { Stats } from "./stats.ts";

/** The warning a run that lost a worker to an out-of-memory ends with. */
const OUT_OF_MEMORY =
  "a worker ran out of memory: its records were isolated; --max-worker-memory " +
  "<MB> (maxWorkerMemory) sets each worker's heap limit, and a lower one finds such records sooner";

/** What a death comes to: the run's end, or a record found to kill its worker. */
export type Judgement =
  | { kind: "gave up"; error: WorkerCrashError }
  | { kind: "poison"; failure: Piece }
  | { kind: "retry" };

/** Deaths of a run's workers, and the streak of them without a record finished. */
export class Crashes {
  readonly #stats: Stats;
  readonly #maxRespawns: number;
  /** Worker deaths since a record was last classified. */
  #streak = 0;

  /** Deaths counted in `stats`; more than `maxRespawns` in a row end the run. */
  constructor(stats: Stats, maxRespawns: number) {
    this.#stats = stats;
    this.#maxRespawns = maxRespawns;
  }

  /** A record was classified: the streak is over. */
  progressed(): void {
    this.#streak = 0;
  }

  /** A worker died with `error`, working on `head` (if on any task). */
  died(head: Flight | undefined, error: WorkerCrashError): Judgement {
    this.#stats.respawns++;
    // Running out of memory is the record's doing, not a fluke: no second chance at the same range.
    const outOfMemory = /ran out of memory/.test(error.message);
    if (outOfMemory) this.#stats.warnOnce(OUT_OF_MEMORY);
    const verdict = head?.crashed(outOfMemory);
    // A death that narrowed down the suspect records is bisection at work, not a streak of
    // unexplained deaths: a poison record at the start of a big chunk costs ~log2(records) deaths.
    if (!(verdict?.kind === "retry" && verdict.narrowed)) this.#streak++;
    if (this.#streak > this.#maxRespawns) {
      return { kind: "gave up", error: gaveUp(error, this.#streak, this.#maxRespawns) };
    }
    if (head && verdict?.kind === "poison") {
      this.#stats.isolated++;
      return { kind: "poison", failure: poisoned(verdict.offset, head, error) };
    }
    return { kind: "retry" };
  }
}

/** The error of a run whose workers died `streak` times in a row, the last with `error`. */
function gaveUp(error: WorkerCrashError, streak: number, maxRespawns: number): WorkerCrashError {
  return new WorkerCrashError(
    error.workerIndex,
    `${error.message.replace(/^worker \d+ died: /, "")}; workers died ${streak} times ` +
      `in a row without finishing a record, so the run gave up (maxRespawns: ${maxRespawns})`,
    { cause: error },
  );
}

/** The failure of a record found to kill its worker, as the release takes it. */
function poisoned(offset: number, flight: Flight, death: WorkerCrashError): Piece {
  const failure: Failure = {
    kind: "record",
    offset,
    line: flight.lines?.[offset] ?? 0,
    record: flight.alone,
    error: {
      name: WorkerCrashError.name,
      message: `the worker died while classifying this record (${death.message})`,
    },
  };
  return { seq: flight.seq, records: 1, results: [], failures: [failure] };
}
