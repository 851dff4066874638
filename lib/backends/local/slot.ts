/**
 * One worker of the local backend and what the backend knows of it.
 *
 * A worker can die in several ways, and one of them is silence; all of them
 * become one death here:
 * - the link reports it (an uncaught error event, the worker process ended);
 * - the worker's own `fatal` message (an error escaping a timer or a promise);
 * - its `exit` message, sent just before `Deno.exit()` or `self.close()` take
 *   effect (Deno sends no event for those);
 * - a worker that goes longer than the run's timeout without finishing a
 *   record: the backend kills it.
 *
 * @module
 */

import { CrunchError, reviveError, WorkerCrashError } from "../../errors.ts";
import type { FromWorker, SerializedError } from "../../wire/protocol.ts";
import type { Links, WorkerLink } from "./link.ts";

/** How long a worker's `close()` may take before the worker is stopped anyway. */
const CLOSE_GRACE_MS = 5000;

/** `what` with an error's name and message, for messages. */
export function described(what: string, error: SerializedError): string {
  return `${what}: ${error.name}: ${error.message}`;
}

/** One worker and what the backend knows of it. */
export class Slot {
  readonly index: number;
  readonly link: WorkerLink;
  /** Ids of the tasks it holds, in the order it takes them. */
  queue: number[] = [];
  /** When it last showed progress: started its head task, or reported results. */
  progressAt = 0;
  /** Tasks finished in the current run (for maxChunksPerWorker). */
  finished = 0;
  /** False while the worker is starting (importing the plug-in, running init). */
  ready = false;
  /**
   * It has the current run's settings. A task sent before them would be
   * dropped by the worker as one of an unknown run, and waited for forever.
   */
  joined = false;
  /** It takes no more tasks: it is about to be replaced. */
  retiring = false;
  /** Set once the worker is known to be dead or stopped. */
  dead: WorkerCrashError | undefined;
  /** Where its ordinary messages go (the start handshake, then the backend). */
  onMessage: (message: FromWorker) => void = () => {};
  /** Called once when it dies. */
  onDeath: (error: WorkerCrashError) => void = () => {};
  /** When it was started. */
  readonly startedAt = performance.now();
  /** Starting it and loading the plug-in (and its prepare() where it ran), ms, once done. */
  loadMs: number | undefined;
  /** The plug-in's init in it, ms, once done. */
  initMs: number | undefined;

  /** Starts worker `index` with `links`. */
  constructor(index: number, links: Links) {
    this.index = index;
    this.link = links.start(index, {
      message: (message) => {
        if (this.dead) return;
        if (message.type === "exit") {
          const how = message.via === "Deno.exit"
            ? `the classifier called Deno.exit(${message.code ?? ""})`
            : "the classifier called self.close()";
          this.kill(new WorkerCrashError(index, how));
        } else if (message.type === "fatal") {
          this.kill(
            new WorkerCrashError(index, described("an uncaught error", message.error), {
              cause: reviveError(message.error),
            }),
          );
        } else {
          this.onMessage(message);
        }
      },
      died: (reason, cause) => this.kill(new WorkerCrashError(index, reason, { cause })),
    });
  }

  /** True when it may take another task. */
  get available(): boolean {
    return this.ready && this.joined && !this.dead && !this.retiring;
  }

  /** The worker's next message; its death (or its being dead already) rejects. */
  reply(): Promise<FromWorker> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.onMessage = resolve;
      this.onDeath = reject;
    });
  }

  /** Declares the worker dead: stops it and reports the death once. */
  kill(error: WorkerCrashError): void {
    if (this.dead) return;
    this.dead = error;
    this.link.terminate();
    this.onDeath(error);
  }

  /** Stops the worker without reporting a death (it is being replaced or shut down). */
  stop(): void {
    this.dead ??= new WorkerCrashError(this.index, "stopped");
    this.link.terminate();
  }

  /**
   * Asks the plug-in to `close()`, then stops the worker. Resolves with the
   * error close() threw, if any, or a warning: the worker died while closing,
   * or its close() did not finish in time.
   */
  close(): Promise<{ error?: Error; warning?: string }> {
    if (this.dead) {
      this.stop();
      return this.link.exited.then(() => ({}));
    }
    return new Promise((resolve) => {
      const timer = setTimeout(
        () =>
          finish(
            undefined,
            `worker ${this.index}'s close() did not finish within ${CLOSE_GRACE_MS / 1000} s; ` +
              "the worker was stopped",
          ),
        CLOSE_GRACE_MS,
      );
      const finish = (error: Error | undefined, warning?: string) => {
        clearTimeout(timer);
        this.onDeath = () => {};
        this.stop();
        // Nothing of the worker outlives its close (a process is reaped first).
        this.link.exited.then(() => resolve({ error, warning }));
      };
      this.onDeath = (death) =>
        finish(
          undefined,
          `${death.message.replace(/^worker (\d+) died/, "worker $1 died while closing")}`,
        );
      this.onMessage = (message) => {
        if (message.type !== "closed") return;
        if (message.error === undefined) finish(undefined);
        else {
          const { name, message: text } = message.error;
          finish(
            new CrunchError(`close() failed in worker ${this.index}: ${name}: ${text}`, {
              cause: reviveError(message.error),
            }),
          );
        }
      };
      this.link.post({ type: "close" });
    });
  }
}
