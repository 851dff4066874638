/**
 * An in-memory backend for unit tests of the run's core: "workers" are
 * plain objects that classify batch rows in this thread with a function of
 * the test's, and that die when it says so. Scheduling, retries, bisection
 * and maxRespawns run for real, in milliseconds.
 */
import { WorkerCrashError } from "../lib/errors.ts";
import type {
  Backend,
  BackendListener,
  BackendRun,
  RunLimits,
  RunSettings,
  Task,
} from "../lib/backends/backend.ts";
import type { Failure } from "../lib/wire/task.ts";

/** Tasks a fake worker holds at once. */
const PER_WORKER = 2;

/** What a fake worker does with one row: a result, or "die" to kill its worker. */
export type Behaviour = (row: unknown) => unknown | "die";

/** What the fake backend saw. */
export interface Log {
  /** Every task sent: sequence number and record range. */
  sent: { seq: number; from: number; to?: number }[];
  deaths: number;
}

/** A backend of `size` fake workers. */
export class FakeBackend implements Backend {
  readonly size: number;
  readonly capacity: number;
  readonly log: Log = { sent: [], deaths: 0 };
  readonly #behaviour: Behaviour;

  constructor(size: number, behaviour: Behaviour) {
    this.size = size;
    this.capacity = size * PER_WORKER;
    this.#behaviour = behaviour;
  }

  begin(settings: RunSettings, _limits: RunLimits, listener: BackendListener): Promise<BackendRun> {
    return Promise.resolve(new FakeRun(this.size, settings, listener, this.#behaviour, this.log));
  }

  close(): Promise<string[]> {
    return Promise.resolve([]);
  }

  terminate(): Promise<void> {
    return Promise.resolve();
  }
}

class FakeRun implements BackendRun {
  #queues: Task[][];
  #ready: boolean[];
  #ended = false;

  constructor(
    size: number,
    readonly settings: RunSettings,
    readonly listener: BackendListener,
    readonly behaviour: Behaviour,
    readonly log: Log,
  ) {
    this.#queues = Array.from({ length: size }, () => []);
    this.#ready = Array.from({ length: size }, () => true);
  }

  room(): number {
    let room = 0;
    this.#queues.forEach((q, i) => {
      if (this.#ready[i]) room += PER_WORKER - q.length;
    });
    return room;
  }

  send(task: Task): void {
    if (task.body.kind !== "batch") throw new Error("the fake backend takes batches only");
    let worker = -1;
    this.#queues.forEach((q, i) => {
      if (
        this.#ready[i] && q.length < PER_WORKER &&
        (worker === -1 || q.length < this.#queues[worker].length)
      ) {
        worker = i;
      }
    });
    this.log.sent.push({ seq: task.id, from: task.from ?? 0, to: task.to });
    this.#queues[worker].push(task);
    if (this.#queues[worker].length === 1) setTimeout(() => this.#work(worker), 0);
  }

  update(): void {}

  end(): void {
    this.#ended = true;
  }

  #work(worker: number): void {
    const task = this.#queues[worker][0];
    if (this.#ended || task === undefined || task.body.kind !== "batch") return;
    const { rows } = task.body;
    const seq = task.id;
    const from = task.from ?? 0;
    const to = Math.min(task.to ?? rows.length, rows.length);
    if (task.count) {
      this.listener.count({ id: seq, records: rows.length, newlines: 0 });
    }
    const results: unknown[] = [];
    const offsets: number[] = [];
    const failures: Failure[] = [];
    for (let i = from; i < to; i++) {
      let result: unknown;
      try {
        result = this.behaviour(rows[i]);
      } catch (error) {
        failures.push({
          kind: "record",
          offset: i,
          line: 0,
          record: rows[i],
          error: { name: "Error", message: (error as Error).message },
        });
        continue;
      }
      if (result === "die") {
        // What was classified before the death is lost with the worker, as in a real one.
        const lost = this.#queues[worker].map((t) => t.id);
        this.#queues[worker] = [];
        this.#ready[worker] = false;
        this.log.deaths++;
        this.listener.lost(lost, new WorkerCrashError(worker, "the fake worker died"));
        setTimeout(() => {
          this.#ready[worker] = true;
          this.listener.ready();
        }, 0);
        return;
      }
      results.push(result);
      offsets.push(i);
    }
    this.#queues[worker].shift();
    this.listener.piece({
      id: seq,
      last: true,
      results,
      offsets: this.settings.tagged ? offsets : undefined,
      failures,
      records: to - from,
      newlines: 0,
    });
    if (this.#queues[worker].length) setTimeout(() => this.#work(worker), 0);
  }
}
