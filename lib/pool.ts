/**
 * A pool of workers with a classifier loaded and initialised once, serving
 * many inputs in turn.
 *
 * @module
 */

import { CrunchError } from "./errors.ts";
import type { Input } from "./input/source.ts";
import {
  checkPoolOptions,
  type PoolOptions,
  resolveRunOptions,
  resolveWorkers,
  type RunOptions,
  type Tagged,
} from "./options.ts";
import type { OutputFormat } from "./formats/format.ts";
import type { Backend } from "./backends/backend.ts";
import { startBackend } from "./backends/start.ts";
import type { Lease } from "./run/engine.ts";
import { pumpFor } from "./run/pump_for.ts";
import type { OutputPart } from "./run/parts_pump.ts";
import type { Files } from "./files.ts";
import { type Results, RunIterator } from "./run/iterator.ts";
import type { ResultOf } from "./plugin.ts";

/**
 * Workers that have imported a classifier module and run its `init` once.
 * Use it to classify several inputs without paying for `init` again.
 *
 * @example
 * ```ts
 * import { Pool } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 *
 * await using pool = await Pool.start("examples/hits.ts", { spec: { words: ["good"] } });
 * const first = [];
 * for await (const result of pool.classify("examples/reviews.csv", { ordered: true })) {
 *   first.push(result);
 * }
 * assert.deepEqual(first, [{ id: "1", hits: 1 }, { id: "3", hits: 1 }]);
 * // init ran once per worker; the next input reuses it
 * const second = [];
 * for await (const result of pool.classify([{ id: "9", text: "good good" }])) second.push(result);
 * assert.deepEqual(second, [{ id: "9", hits: 2 }]);
 * ```
 */
export class Pool {
  #backend: Backend;
  #busy = false;
  #closing: Promise<void> | undefined;

  private constructor(backend: Backend) {
    this.#backend = backend;
  }

  /**
   * Starts the workers, imports `module` in each and calls its `init(spec, context)`.
   * Rejects with `ModuleError` or `InitError` (and stops every worker) if any of that fails.
   *
   * @example
   * ```ts
   * import { Pool } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * const pool = await Pool.start("examples/hits.ts", { workers: 2, spec: { words: ["good"] } });
   * assert.equal(pool.size, 2);
   * await pool.close();
   * ```
   */
  static async start(module: string | URL, options: PoolOptions = {}): Promise<Pool> {
    checkPoolOptions(options);
    const workers = resolveWorkers(options.workers);
    return new Pool(await startBackend(module, { ...options, workers }));
  }

  /** Number of workers in the pool. */
  get size(): number {
    return this.#backend.size;
  }

  /**
   * Classifies every record of `input`; see {@linkcode classify} for the
   * inputs and options. One run at a time: a second call while a run is
   * still being iterated throws.
   *
   * @example
   * ```ts
   * import { Pool } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * await using pool = await Pool.start("examples/hits.ts", { spec: { words: ["a"] } });
   * const rows = [{ id: "1", text: "a b a" }, { id: "2", text: "b" }];
   * const results = [];
   * for await (const r of pool.classify(rows, { ordered: true })) results.push(r);
   * assert.deepEqual(results, [{ id: "1", hits: 2 }]); // "2" has no hit: no result
   * ```
   */
  classify<_R = OutputPart>(
    input: Input,
    options: RunOptions & { outputDir: string },
  ): Results<OutputPart>;
  /** With `encode`: `Uint8Array` pieces of one document in that format. */
  classify<_R = Uint8Array>(
    input: Input,
    options: RunOptions & { encode: OutputFormat },
  ): Results<Uint8Array>;
  /** With `tagged: true` over a file or stream: {@linkcode Tagged} results, each with its line. */
  classify<R = unknown>(
    input: string | URL | Files | ReadableStream<Uint8Array> | Deno.FsFile,
    options: RunOptions & { tagged: true },
  ): Results<Tagged<ResultOf<R>> & { line: number }>;
  /** With `tagged: true` (and no `encode`): {@linkcode Tagged} results `{ index, line, result }`. */
  classify<R = unknown>(
    input: Input,
    options: RunOptions & { tagged: true },
  ): Results<Tagged<ResultOf<R>>>;
  /** Without `tagged` or `encode`: what classify returned, `R` (or, for a module's type, its classify's result). */
  classify<R = unknown>(input: Input, options?: RunOptions): Results<ResultOf<R>>;
  classify<R = unknown>(input: Input, options: RunOptions = {}): Results<R> {
    if (this.#closing) throw new CrunchError("the pool is closed");
    if (this.#busy) {
      throw new CrunchError(
        "the pool is busy with another run: finish or return() that iterator first",
      );
    }
    const backend = this.#backend;
    const lease: Lease = {
      workers: backend.size,
      acquire: () => {
        if (this.#closing) return Promise.reject(new CrunchError("the pool is closed"));
        return Promise.resolve(backend);
      },
      release: () => {
        this.#busy = false;
        return Promise.resolve();
      },
    };
    const resolved = resolveRunOptions(options);
    const engine = pumpFor(input, resolved, lease);
    this.#busy = true;
    return new RunIterator<R>(engine);
  }

  /**
   * Calls each worker's `close()` export, if any, and stops the workers.
   *
   * @example
   * ```ts
   * import { Pool } from "@crunch/crunch";
   * import assert from "node:assert/strict";
   * const pool = await Pool.start("examples/hits.ts", { spec: { words: [] } });
   * await pool.close(); // calls each worker's close() export, if any
   * assert.throws(() => pool.classify([]), /the pool is closed/);
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#backend.close().then((warnings) => {
      for (const warning of warnings) console.warn(`crunch: warning: ${warning}`);
    });
    return this.#closing;
  }

  /** Same as {@linkcode Pool.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
