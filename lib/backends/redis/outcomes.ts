/**
 * What the coordinator makes of an entry of a run's result stream: a task's
 * results (its count first, sent ahead so a task whose worker dies can
 * still be bisected), the tasks a worker lost, a worker's refusal of the
 * run (that worker's, not the run's end: another may take it), and the
 * tasks a refusing worker gave back unstarted (sent again, charged to no
 * record). Each task's outcome is taken once: a late duplicate finds no task.
 *
 * @module
 */

import { WorkerCrashError } from "../../errors.ts";
import { decodeFrames } from "../../wire/frames.ts";
import type { BackendListener } from "../backend.ts";
import type { SentTask, SentTasks } from "./sent_tasks.ts";

const decoder = new TextDecoder();

/** What the run does with a refusal and with the tasks a refusing worker gave back. */
export interface Refusals {
  /** Worker process `name` (shown as `label`) will not serve the run, because `why`. */
  refused(name: string, label: string, why: string): void;
  /** These tasks came back unstarted (their entries acknowledged): send them again. */
  resend(tasks: SentTask[]): void;
}

/** The outcomes of one run's tasks, handed to the engine under the engine's numbers. */
export class Outcomes {
  readonly #sent: SentTasks;
  readonly #listener: BackendListener;
  readonly #refusals: Refusals;
  /** Worker process names, numbered in the order they first lost a task (for errors). */
  readonly #names = new Map<string, number>();

  /** Outcomes of the tasks in `sent` (by tid), told to `listener`; refusals to `refusals`. */
  constructor(sent: SentTasks, listener: BackendListener, refusals: Refusals) {
    this.#sent = sent;
    this.#listener = listener;
    this.#refusals = refusals;
  }

  /** A result entry's fields. */
  take(fields: Map<string, Uint8Array>): void {
    const kind = decoder.decode(fields.get("kind"));
    const tids = decoder.decode(fields.get("tids")).split(",").filter(Boolean).map(Number);
    const worker = decoder.decode(fields.get("worker"));
    if (kind === "refused") {
      const name = fields.get("name");
      const why = decoder.decode(fields.get("error"));
      this.#refusals.refused(name ? decoder.decode(name) : worker, worker, why);
      return;
    }
    if (kind === "died") {
      this.#listener.lost([], this.#crash(worker, fields));
      return;
    }
    const live = tids.map((tid) => this.#sent.get(tid)).filter((t) => t !== undefined);
    if (live.length === 0) return; // an outcome the coordinator has already (a late duplicate)
    const frames = fields.get("frames") ?? new Uint8Array();
    if (kind === "count" || kind === "piece" || kind === "split") {
      // Sent ahead of the outcome: the count, so that a task whose worker dies can still be
      // bisected; a slow task's results, as they come; where it was cut, when asked.
      if (kind === "piece") live[0].delivered = true;
      this.#deliver(live[0], frames);
      return;
    }
    for (const task of live) this.#sent.delete(task.tid);
    if (kind === "returned") {
      this.#refusals.resend(live);
    } else if (kind === "done") {
      this.#deliver(live[0], frames);
    } else if (kind === "lost") {
      this.#listener.lost(live.map((t) => t.seq), this.#crash(worker, fields));
    }
  }

  /** The death a "lost" or "died" entry reports. */
  #crash(worker: string, fields: Map<string, Uint8Array>): WorkerCrashError {
    const reason = decoder.decode(fields.get("error")).replace(/^worker \d+ died: /, "");
    return new WorkerCrashError(this.workerIndex(worker), `${reason} (in crunch worker ${worker})`);
  }

  /** Hands a task's messages to the engine: its count once, then its pieces. */
  #deliver(task: SentTask, frames: Uint8Array): void {
    for (const message of decodeFrames(frames)) {
      if (message.type === "count") {
        if (task.counted) continue;
        task.counted = true;
        this.#listener.count({ ...message.count, id: task.seq });
      } else if (message.type === "piece") {
        this.#listener.piece({ ...message.piece, id: task.seq });
      } else if (message.type === "split" && "cuts" in message) {
        const { cuts, records, leftMs } = message;
        this.#listener.split?.({ task: task.seq, cuts, records, leftMs });
      }
    }
  }

  /** The number a worker process goes by in errors. */
  workerIndex(worker: string): number {
    let index = this.#names.get(worker);
    if (index === undefined) this.#names.set(worker, index = this.#names.size);
    return index;
  }
}
