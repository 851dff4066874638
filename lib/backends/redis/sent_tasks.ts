/**
 * The tasks a coordinator has sent through Redis and has no outcome for,
 * by their current task id (tid). A task sent again (Redis lost it, or a
 * refusing worker gave it back) goes under a new tid, so that whatever a
 * worker still holding the old one sends is dropped as stale.
 *
 * @module
 */

/** A task the coordinator has sent and has no outcome for. */
export interface SentTask {
  tid: number;
  seq: number;
  frame: Uint8Array;
  /** Its entry in the task stream, once XADD answered. */
  entry?: string;
  /** Its count message came (sent ahead of its results, for bisection after a death). */
  counted?: boolean;
  /** Some of its results came ahead of its outcome: it cannot simply be sent again. */
  delivered?: boolean;
}

/** The tasks sent and without an outcome, by tid. */
export class SentTasks {
  readonly #byTid = new Map<number, SentTask>();
  #nextTid = 1;

  /** The engine's task `seq`, as `frame`, under a new tid. */
  add(seq: number, frame: Uint8Array): SentTask {
    return this.renew({ tid: 0, seq, frame });
  }

  /** `task` under a new tid, as a task not yet on the stream. */
  renew(task: SentTask): SentTask {
    this.#byTid.delete(task.tid);
    task.tid = this.#nextTid++;
    task.entry = undefined;
    task.counted = false;
    this.#byTid.set(task.tid, task);
    return task;
  }

  /** The task sent under `tid`, if it has no outcome yet. */
  get(tid: number): SentTask | undefined {
    return this.#byTid.get(tid);
  }

  /** Forgets the task under `tid` (its outcome came); true if it was there. */
  delete(tid: number): boolean {
    return this.#byTid.delete(tid);
  }

  /** How many there are. */
  get size(): number {
    return this.#byTid.size;
  }

  /** Every one, in the order sent. */
  all(): SentTask[] {
    return [...this.#byTid.values()];
  }

  /** Those with an entry in the task stream, by entry. */
  byEntry(): Map<string, SentTask> {
    const found = new Map<string, SentTask>();
    for (const task of this.#byTid.values()) {
      if (task.entry !== undefined) found.set(task.entry, task);
    }
    return found;
  }
}
