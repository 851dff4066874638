/**
 * The transport to one worker, whatever kind it is (a Web Worker, a worker
 * process): what the local backend needs to send it messages, hear its
 * messages and learn of its death, and stop it; and what the transport can
 * carry, so the backend decides once how to send what needs carrying.
 *
 * @module
 */

import type { FromWorker, ToWorker } from "../../wire/protocol.ts";

/** What a link reports about its worker. */
export interface LinkEvents {
  /** A message from the worker. */
  message(message: FromWorker): void;
  /** The worker is gone (an uncaught error, its process ended); `reason` says how. */
  died(reason: string, cause?: Error): void;
}

/** One worker, as the backend sees it. */
export interface WorkerLink {
  /**
   * Sends `message`, transferring `transfer` where the transport can. Throws
   * a `DataCloneError` DOMException when the message cannot be sent.
   */
  post(message: ToWorker, transfer?: Transferable[]): void;
  /** Stops the worker at once. Safe to call more than once. */
  terminate(): void;
  /** Resolves once a terminated worker is wholly gone (a process reaped, its pipes read). */
  readonly exited: Promise<void>;
}

/** What a transport can carry besides what structured clone copies. */
export interface Carries {
  /**
   * SharedArrayBuffers arrive shared (threads of one process): a rate
   * limit's clock and what `prepare()` shares are one copy for all workers.
   * Without it each worker gets a copy of its own.
   */
  sharedMemory: boolean;
  /** ArrayBuffers can be transferred rather than copied. */
  transfer: boolean;
}

/** How the backend starts workers of one kind. */
export interface Links {
  /** What this kind of link carries. */
  readonly carries: Carries;
  /** Starts worker number `index`, reporting to `events`. */
  start(index: number, events: LinkEvents): WorkerLink;
}
