/**
 * What carries a worker's messages to the main side: Web Worker messages,
 * or a worker process's frames.
 *
 * @module
 */

import type { FromWorker } from "../lib/wire/protocol.ts";

/** What carries a worker's messages to the main side. */
export interface WorkerTransport {
  /** Sends `message`; throws a `DataCloneError` DOMException when it cannot be sent. */
  send(message: FromWorker, transfer?: Transferable[]): void;
  /** Ends this worker at once (after a fatal error has been sent). */
  exit(): void;
}
