/**
 * Decoding workers kept between the files of one run: a run over many
 * small compressed files would otherwise start a decoding worker for each
 * (about 45 ms here, more than decoding a 75 KB file takes). A worker that
 * finished a file cleanly waits here for the next; the run closes the pool
 * when it ends, so no worker outlives it.
 *
 * @module
 */

const DECODER_URL = new URL("../../workers/decode_worker.ts", import.meta.url);

/** Idle decoding workers of one run. */
export class DecoderPool {
  #idle: Worker[] = [];
  #closed = false;

  /** An idle worker, or a new one. */
  take(kind: string): Worker {
    return this.#idle.pop() ?? DecoderPool.start(kind);
  }

  /** Keeps `worker` (done with its file, cleanly) for the next file; after close, ends it. */
  give(worker: Worker): void {
    worker.onmessage = null;
    worker.onerror = null;
    if (this.#closed) worker.terminate();
    else this.#idle.push(worker);
  }

  /** Ends the idle workers; those given back later are ended then. */
  close(): void {
    this.#closed = true;
    for (const worker of this.#idle.splice(0)) worker.terminate();
  }

  /** A new decoding worker. */
  static start(kind: string): Worker {
    return new Worker(DECODER_URL, { type: "module", name: `crunch-${kind}` });
  }
}
