/**
 * One run on a {@linkcode LocalBackend}'s workers: which worker takes each
 * task (the least loaded, a couple at most each), what a worker's death
 * loses, a watchdog for workers that stop finishing records, and workers
 * recycled after so many tasks or past their heap limit.
 *
 * @module
 */

import { WorkerCrashError } from "../../errors.ts";
import type { FromWorker, RunMessage } from "../../wire/protocol.ts";
import type { BackendListener, BackendRun, RunLimits, RunUpdate, Task } from "../backend.ts";
import type { LocalBackend } from "./local.ts";
import type { Slot } from "./slot.ts";

/** Tasks a worker may hold at once: one being classified, one queued behind it. */
export const PER_WORKER = 2;

/** One run on a local backend's workers. */
export class LocalRun implements BackendRun {
  /** Workers that lost a race to a copy of their task. */
  readonly #slow = new Set<number>();
  readonly #backend: LocalBackend;
  readonly #slots: Slot[];
  readonly #settings: RunMessage;
  readonly #limits: RunLimits;
  readonly #listener: BackendListener;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #ended = false;

  constructor(
    backend: LocalBackend,
    slots: Slot[],
    settings: RunMessage,
    limits: RunLimits,
    listener: BackendListener,
  ) {
    this.#backend = backend;
    this.#slots = slots;
    this.#settings = { ...settings };
    this.#limits = limits;
    this.#listener = listener;
    for (const slot of slots) this.#join(slot);
    const { timeout } = limits;
    if (timeout !== undefined) {
      // More workers than cores share the cores: a record takes that much longer in wall time.
      const share = Math.max(1, slots.length / (navigator.hardwareConcurrency || 1));
      this.#watchdog = setInterval(
        () => this.#checkTimeouts(timeout, timeout * share),
        Math.min(250, Math.max(10, timeout / 4)),
      );
    }
  }

  #join(slot: Slot): void {
    slot.queue = [];
    slot.finished = 0;
    slot.retiring = false;
    slot.link.post(this.#settings);
    slot.joined = true;
  }

  room(): number {
    let room = 0;
    for (const slot of this.#slots) {
      if (slot.available) room += Math.max(0, this.#holds(slot) - slot.queue.length);
    }
    return room;
  }

  /**
   * Tasks `slot` may hold: none for a worker known to be slow (it lost a
   * race to a copy of its task) while another is not, so that its tasks go
   * to the others instead of each waiting for a copy.
   */
  #holds(slot: Slot): number {
    const sidelined = this.#slow.has(slot.index) && this.#slow.size < this.#slots.length;
    return sidelined ? 0 : PER_WORKER;
  }

  slow(worker: string): void {
    const index = Number(worker.match(/^worker (\d+)$/)?.[1]);
    if (Number.isInteger(index)) this.#slow.add(index);
  }

  send(task: Task, transfer: ArrayBuffer[] = []): void {
    let slot: Slot | undefined;
    for (const s of this.#slots) {
      const room = s.available && s.queue.length < this.#holds(s);
      if (room && (!slot || s.queue.length < slot.queue.length)) slot = s;
    }
    if (slot === undefined) throw new Error("no worker has room for a task");
    slot.link.post({ type: "task", run: this.#settings.run, task }, transfer);
    slot.queue.push(task.id);
    if (slot.queue.length === 1) slot.progressAt = performance.now();
  }

  update(change: RunUpdate): void {
    Object.assign(this.#settings, change);
    const run = this.#settings.run;
    for (const slot of this.#slots) {
      if (!slot.dead) slot.link.post({ type: "update", run, ...change });
    }
  }

  end(cancel: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#watchdog);
    this.#backend.detach(this);
    if (cancel) {
      for (const slot of this.#slots) {
        if (!slot.dead) slot.link.post({ type: "cancel", run: this.#settings.run });
      }
    }
  }

  cancel(id: number): void {
    const slot = this.#slots.find((s) => !s.dead && s.queue.includes(id));
    if (slot === undefined) return;
    slot.queue.splice(slot.queue.indexOf(id), 1);
    slot.link.post({ type: "cancel", run: this.#settings.run, task: id });
  }

  split(id: number, parts: number): void {
    const slot = this.#slots.find((s) => !s.dead && s.queue.includes(id));
    slot?.link.post({ type: "split", run: this.#settings.run, task: id, parts });
  }

  idle(): number {
    return this.#slots.filter((s) => s.available && this.#holds(s) && !s.queue.length).length;
  }

  holder(id: number): string | undefined {
    const slot = this.#slots.find((s) => !s.dead && s.queue.includes(id));
    return slot && `worker ${slot.index}`;
  }

  /** A message from a ready worker. */
  message(slot: Slot, message: FromWorker): void {
    if (this.#ended) return;
    if (message.type === "count" || message.type === "split") {
      if (message.run !== this.#settings.run) return;
      if (message.type === "count") this.#listener.count(message.count);
      else {
        const { task, cuts, records, leftMs } = message;
        this.#listener.split?.({ task, cuts, records, leftMs });
      }
      return;
    }
    if (message.type !== "piece" || message.run !== this.#settings.run) return;
    slot.progressAt = performance.now();
    const { piece } = message;
    if (piece.stages) piece.stages.worker = `worker ${slot.index}`;
    this.#listener.piece(piece);
    if (piece.last) this.#finished(slot, piece.id, piece.heapUsed);
  }

  /** `slot` is done with task `id`. */
  #finished(slot: Slot, id: number, heapUsed?: number): void {
    const at = slot.queue.indexOf(id);
    if (at !== -1) slot.queue.splice(at, 1);
    slot.progressAt = performance.now();
    slot.finished++;
    const { maxChunksPerWorker } = this.#limits;
    if (maxChunksPerWorker !== undefined && slot.finished >= maxChunksPerWorker) {
      slot.retiring = true;
    }
    // A worker that holds more heap than allowed is replaced between tasks, before a record
    // runs it out of memory (which, in a Web Worker, would end the whole process).
    const limit = this.#backend.heapLimit;
    if (limit !== undefined && heapUsed !== undefined && heapUsed > limit) slot.retiring = true;
    if (slot.retiring && slot.queue.length === 0) {
      this.#listener.note({ kind: "recycled", worker: slot.index });
      this.#replace(slot, true);
    }
  }

  /** A worker of this run died: its tasks are lost, and a fresh worker takes its place. */
  died(slot: Slot, error: WorkerCrashError): void {
    if (this.#ended) return;
    const tasks = slot.queue;
    slot.queue = [];
    this.#listener.lost(tasks, error);
    if (!this.#ended) this.#replace(slot, false);
  }

  /** A replacement worker is ready: it takes this run's settings, then tasks. */
  joined(slot: Slot): void {
    if (this.#ended) return;
    this.#join(slot);
    this.#listener.ready();
  }

  #replace(slot: Slot, graceful: boolean): void {
    this.#backend.replace(slot.index, graceful).catch((error) => {
      if (!this.#ended) this.#listener.failed(error);
    });
  }

  #checkTimeouts(timeout: number, wall: number): void {
    const now = performance.now();
    for (const slot of this.#slots) {
      if (!slot.dead && slot.queue.length && now - slot.progressAt > wall) {
        const shared = wall > timeout
          ? ` (${Math.round(wall)} ms with more workers than cores)`
          : "";
        slot.kill(
          new WorkerCrashError(
            slot.index,
            `no record finished within the timeout of ${timeout} ms${shared}`,
          ),
        );
      }
    }
  }
}
