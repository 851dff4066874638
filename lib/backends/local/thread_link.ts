/**
 * Workers as Web Workers in this process: cheap to start and to talk to
 * (chunks are transferred, not copied), but they share the process, so an
 * out-of-memory in one ends the whole process and a thread stuck in a
 * synchronous loop cannot be stopped.
 *
 * @module
 */

import type { ConsoleLine, FromWorker, ToWorker } from "../../wire/protocol.ts";
import { writeStderr } from "../../stderr.ts";
import type { LinkEvents, Links, WorkerLink } from "./link.ts";

const WORKER_URL = new URL("../../../workers/entry_thread.ts", import.meta.url);

/**
 * Links to Web Workers, with `permissions` when given (a sandbox);
 * `consoleToStderr` sends the plug-in's console to standard error, through
 * this thread (the command, whose standard output holds the results, and
 * whose progress line is cleared first).
 */
export function threadLinks(
  permissions?: Deno.PermissionOptions,
  consoleToStderr = false,
): Links {
  const url = new URL(WORKER_URL);
  if (consoleToStderr) url.searchParams.set("console", "stderr");
  return {
    carries: { sharedMemory: true, transfer: true },
    start: (index, events) => new ThreadLink(url, index, events, permissions),
  };
}

class ThreadLink implements WorkerLink {
  readonly #worker: Worker;
  #terminated = false;
  #gone: (() => void) | undefined;
  /** Resolves when it is terminated: a terminated Web Worker is gone at once. */
  readonly exited: Promise<void> = new Promise((resolve) => this.#gone = resolve);

  constructor(
    url: URL,
    index: number,
    events: LinkEvents,
    permissions?: Deno.PermissionOptions,
  ) {
    const options: WorkerOptions & { deno?: { permissions: Deno.PermissionOptions } } = {
      type: "module",
      name: `crunch-${index}`,
    };
    if (permissions !== undefined) options.deno = { permissions };
    this.#worker = new Worker(url, options);
    this.#worker.onmessage = (event: MessageEvent<FromWorker | ConsoleLine>) => {
      if (event.data.type === "console") writeStderr(event.data.text);
      else events.message(event.data);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      // Without preventDefault the error would end the main thread too.
      event.preventDefault();
      events.died(`an uncaught error: ${event.message}`);
    };
    this.#worker.onmessageerror = () => events.died("a message from the worker could not be read");
  }

  post(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#worker.terminate();
    this.#gone!();
  }
}
