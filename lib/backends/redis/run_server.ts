/**
 * One run served by a `crunch worker`: claims the run's tasks as the local
 * workers have room, hands them on, and records each task's outcome (its
 * results, or its loss when a local worker died holding it) with the Lua
 * script that writes an outcome only for a task still pending.
 *
 * @module
 */

import type { Backend, BackendListener, BackendRun, ResultsPiece, Task } from "../backend.ts";
import { concat, decodeFrames, encodeFrames } from "../../wire/frames.ts";
import type { FromWorker } from "../../wire/protocol.ts";
import { type RedisClient, RedisReplyError, type Reply } from "./client.ts";
import type { TaskGuard } from "./admission.ts";
import { takeControls } from "./controls.ts";
import { GROUP, keys, noteArgs, recordArgs, type RunMeta, streamEntries } from "./wire.ts";

const decoder = new TextDecoder();
/** How often the coordinator's controls are read while tasks are held, ms. */
const CONTROLS_EVERY_MS = 200;

/** A task this process holds, by its tid (the local workers' id for it). */
interface Held {
  tid: number;
  entry: string;
  frames: Uint8Array[];
}

/** What a run's outcome writes: an EVAL of the record script, kept until Redis took it. */
export type Outcome = (string | number | Uint8Array)[];

/** What a {@linkcode RunServer} needs of the process that serves runs. */
export interface ServerContext {
  /** This process's consumer name in Redis: its name and this start's id (`w0#1a2b3c4d`). */
  readonly name: string;
  /** The name it goes by in messages (`w0`). */
  readonly label: string;
  /** True once the process is asked to stop. */
  readonly stopping: boolean;
  /** What every task is checked against before it runs. */
  readonly guard: TaskGuard;
  /** This machine's headers for inputs behind http(s) URLs (its --header). */
  readonly headers?: [string, string][];
  /** The connection for commands (a new one after a reconnect). */
  readonly ctl: RedisClient;
  /** The connection for blocking reads. */
  readonly block: RedisClient;
  /** A status line (never data or specs). */
  log(line: string): void;
  /** Waits `ms`, or until {@linkcode ServerContext.wake} (or the stop signal) ends the wait. */
  sleep(ms: number): Promise<void>;
  /** Ends the current wait: something happened (a task finished, a worker is ready). */
  wake(): void;
  /** Says why this process will not run `id`. */
  refuse(id: string, why: string): Promise<void>;
  /** Deals with a failed command: reconnects after a lost connection. */
  recover(error: unknown): Promise<void>;
  /** The workers broke (one could not be replaced): start afresh at the next run. */
  drop(backend: Backend): void;
  /** Writes an outcome; one that cannot be written now is written after reconnecting. */
  write(outcome: Outcome): void;
}

/** One run served by a {@linkcode Consumer}'s workers. */
export class RunServer {
  readonly #consumer: ServerContext;
  readonly #id: string;
  readonly #meta: RunMeta;
  readonly #backend: Backend;
  readonly #held = new Map<number, Held>();
  #columns: string | undefined;
  #run: BackendRun | undefined;
  #gone = false;
  #broken = false;
  /** This process refused a task of the run: it finishes what it holds and leaves. */
  #leaving = false;
  #tasks = 0;
  /** Tasks claimed, not yet handed to a local worker (one died while a claim waited). */
  #backlog: Task[] = [];
  #polled = 0; // when the coordinator's controls were last read

  constructor(
    consumer: ServerContext,
    id: string,
    meta: RunMeta,
    backend: Backend,
    columns: Uint8Array | undefined,
  ) {
    this.#consumer = consumer;
    this.#id = id;
    this.#meta = meta;
    this.#backend = backend;
    if (columns !== undefined) this.#columns = decoder.decode(columns);
  }

  async serve(): Promise<void> {
    const { settings, limits } = this.#meta;
    const outputColumns = this.#columns === undefined ? undefined : JSON.parse(this.#columns);
    this.#run = await this.#backend.begin(
      {
        ...settings,
        outputColumns: outputColumns ?? settings.outputColumns,
        http: { ...settings.http, headers: this.#consumer.headers },
      },
      limits,
      this.#listener(),
    );
    const consumer = this.#consumer;
    consumer.log(`run ${this.#id}: taking tasks`);
    let checked = performance.now();
    try {
      while (!this.#gone && !this.#broken && !this.#leaving && !consumer.stopping) {
        this.#hand();
        await this.#controls();
        const room = this.#run.room() - this.#backlog.length;
        if (room <= 0) {
          await consumer.sleep(250);
        } else {
          await this.#take(room);
        }
        if (performance.now() - checked > 1000) {
          checked = performance.now();
          if ((await consumer.ctl.command("EXISTS", keys.run(this.#id))) !== 1) this.#gone = true;
        }
      }
      // Stopping: what this process holds is finished and recorded before it leaves.
      while (this.#held.size && !this.#gone && !this.#broken) {
        this.#hand();
        await this.#controls();
        await consumer.sleep(100);
      }
    } catch (error) {
      // Whatever went wrong here, the tasks this process claimed must not wait for it forever.
      this.#giveBack(`crunch worker ${consumer.label} failed: ${(error as Error).message}`);
      throw error;
    } finally {
      this.#run.end(this.#gone);
      this.#held.clear();
      this.#backlog = [];
      consumer.log(
        `run ${this.#id}: ${this.#gone ? "ended" : "left"} after ${this.#tasks} task${
          this.#tasks === 1 ? "" : "s"
        }`,
      );
    }
  }

  /** Claims up to `room` new tasks (waiting up to 500 ms for some) and hands them to the workers. */
  async #take(room: number): Promise<void> {
    const consumer = this.#consumer;
    let reply: Reply;
    try {
      reply = await consumer.block.command(
        "XREADGROUP",
        "GROUP",
        GROUP,
        consumer.name,
        "COUNT",
        room,
        "BLOCK",
        500,
        "STREAMS",
        keys.tasks(this.#id),
        ">",
      );
    } catch (error) {
      // The run ended: its stream was deleted (while this read waited, or before).
      if (error instanceof RedisReplyError && /^(NOGROUP|UNBLOCKED)$/.test(error.code)) {
        this.#gone = true;
      } else await consumer.recover(error);
      return;
    }
    const entries = streamEntries(reply);
    for (let i = 0; i < entries.length; i++) {
      const { id: entry, fields } = entries[i];
      const tid = Number(decoder.decode(fields.get("tid")));
      const frame = fields.get("frame");
      if (!frame) continue;
      const message = decodeFrames(frame)[0];
      if (message?.type !== "task") continue;
      const task = message.task;
      const columns = fields.get("columns");
      if (columns !== undefined) {
        const now = decoder.decode(columns);
        if (now !== this.#columns) {
          this.#columns = now;
          this.#run!.update({ outputColumns: JSON.parse(now) });
        }
      }
      const sig = fields.get("sig");
      const entryOf = {
        frame,
        columns: columns && decoder.decode(columns),
        sig: sig && decoder.decode(sig),
      };
      const why = await consumer.guard.task(this.#id, tid, entryOf, task);
      if (why !== undefined) {
        // This task and the rest of the batch go back unstarted (another worker may take
        // them); the tasks already taken are finished, and this process leaves the run.
        this.#return(entries.slice(i));
        await consumer.refuse(this.#id, why);
        this.#leaving = true;
        return;
      }
      this.#held.set(tid, { tid, entry, frames: [] });
      this.#tasks++;
      this.#backlog.push({ ...task, id: tid });
    }
    this.#hand();
  }

  /** Gives `entries` back unstarted: the coordinator sends them again, charged to no record. */
  #return(entries: { id: string; fields: Map<string, Uint8Array> }[]): void {
    const tasks = entries.map(({ id, fields }) => ({
      id,
      tid: Number(decoder.decode(fields.get("tid"))),
    })).filter(({ tid }) => Number.isSafeInteger(tid));
    if (tasks.length === 0) return;
    this.#consumer.write(
      recordArgs(this.#id, tasks, ["kind", "returned", "worker", this.#consumer.label]),
    );
  }

  /** Reports every task this process holds as lost, so the coordinator sends them again. */
  #giveBack(why: string): void {
    const lost = [...this.#held.values()];
    this.#held.clear();
    this.#backlog = [];
    if (lost.length === 0) return;
    this.#consumer.write(
      recordArgs(this.#id, lost.map((h) => ({ id: h.entry, tid: h.tid })), [
        "kind",
        "lost",
        "worker",
        this.#consumer.label,
        "error",
        why,
      ]),
    );
  }

  /** Does what the coordinator says of the tasks held (read a few times a second). */
  async #controls(): Promise<void> {
    if (this.#held.size === 0 || performance.now() - this.#polled < CONTROLS_EVERY_MS) return;
    this.#polled = performance.now();
    const controls = await takeControls(this.#consumer.ctl, this.#id, [...this.#held.keys()]);
    for (const [tid, control] of controls) {
      const held = this.#held.get(tid);
      if (held === undefined) continue;
      if (control.kind === "split") this.#run!.split?.(tid, control.parts);
      else {
        // A race's loser: stopped, acknowledged, and nothing more of it sent.
        this.#held.delete(tid);
        this.#run!.cancel?.(tid);
        const fields = ["kind", "cancelled", "worker", this.#consumer.label];
        this.#consumer.write(recordArgs(this.#id, [{ id: held.entry, tid }], fields));
      }
    }
  }

  /** Hands claimed tasks to the local workers while they have room. */
  #hand(): void {
    while (this.#backlog.length && this.#run!.room() > 0) {
      const task = this.#backlog.shift()!;
      if (!this.#held.has(task.id)) continue; // given up meanwhile (its workers failed)
      this.#run!.send(task, task.body.kind === "chunk" ? [task.body.buffer] : []);
    }
  }

  #listener(): BackendListener {
    const consumer = this.#consumer;
    return {
      count: (count) => this.#forward("count", count.id, { type: "count", run: 0, count }),
      split: (answer) => this.#forward("split", answer.task, { type: "split", run: 0, ...answer }),
      piece: (piece) => this.#piece(piece),
      lost: (ids, error) => this.#lost(ids, error),
      ready: () => {
        this.#hand();
        consumer.wake();
      },
      note: () => {},
      waiting: () => {},
      failed: (error) => {
        // A worker could not be replaced: give back what this process holds and start afresh.
        consumer.log(`run ${this.#id}: ${(error as Error).message}`);
        this.#giveBack(
          `the workers of crunch worker ${consumer.label} failed: ${(error as Error).message}`,
        );
        this.#broken = true;
        consumer.drop(this.#backend);
        consumer.wake();
      },
    };
  }

  /** A note on the run's result stream: written only while the run exists. */
  #note(kind: string, fields: (string | Uint8Array)[]): void {
    this.#consumer.write(
      noteArgs(this.#id, ["kind", kind, "worker", this.#consumer.label, ...fields]),
    );
  }

  /**
   * A message of task `id` goes out at once, not as an outcome (the task
   * stays pending): its count (if the worker dies, the coordinator knows its
   * records and can bisect it), or where it was cut (a split asked for).
   */
  #forward(kind: "count" | "split", id: number, message: FromWorker): void {
    const held = this.#held.get(id);
    if (held) this.#note(kind, ["tids", String(held.tid), "frames", encodeFrames([message])]);
  }

  /** A piece of a task's results; its last records the task's outcome. */
  #piece(piece: ResultsPiece): void {
    const held = this.#held.get(piece.id);
    if (!held) return;
    if (piece.stages) piece.stages.worker = `${this.#consumer.label} ${piece.stages.worker ?? ""}`;
    const frame = encodeFrames([{ type: "piece", run: 0, piece }]);
    if (!piece.last) {
      // A slow task's results go out as they come, as a local worker's do; the task stays
      // pending, and a coordinator that gives it up drops what comes of it after.
      this.#note("piece", ["tids", String(held.tid), "frames", frame]);
      return;
    }
    held.frames.push(frame);
    this.#held.delete(piece.id);
    this.#hand();
    this.#consumer.write(recordArgs(this.#id, [{ id: held.entry, tid: held.tid }], [
      "kind",
      "done",
      "worker",
      this.#consumer.label,
      "frames",
      concat(held.frames),
    ]));
    this.#consumer.wake();
  }

  /** A local worker died holding `ids` (or none): the coordinator hears of it either way. */
  #lost(ids: number[], error: Error): void {
    const consumer = this.#consumer;
    const lost = ids.map((id) => this.#held.get(id)).filter((h) => h !== undefined);
    for (const id of ids) this.#held.delete(id);
    consumer.log(`run ${this.#id}: ${error.message}`);
    if (lost.length === 0) {
      // A worker that died between tasks: nothing to run again, but the run counts it.
      this.#note("died", ["error", error.message]);
      return;
    }
    consumer.write(
      recordArgs(this.#id, lost.map((h) => ({ id: h.entry, tid: h.tid })), [
        "kind",
        "lost",
        "worker",
        consumer.label,
        "error",
        error.message,
      ]),
    );
    consumer.wake();
  }
}
