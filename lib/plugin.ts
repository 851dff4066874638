/**
 * The plug-in contract as a type, for plug-in authors.
 *
 * @module
 */

/**
 * What `init(spec, context)` receives as `context`; `Shared` is what the
 * module's `prepare(spec)` returns.
 */
export interface WorkerContext<Shared = unknown> {
  /** 0-based index of this worker in its pool. */
  workerIndex: number;
  /** Number of workers in the pool. */
  workers: number;
  /**
   * What the module's `prepare(spec)` returned (SharedArrayBuffers shared by threads, copied once
   * into each worker process).
   */
  shared?: Shared;
}

/**
 * What a plug-in module exports: `classify` (or `classifyBatch`), and
 * optionally `init`, `prepare` and `close`. Check a module against it with
 * `satisfies`, or type each export from it:
 *
 * - `prepare(spec)` runs once, in one worker (under the workers' permissions), before any `init`;
 *   what it returns reaches every worker's `init` as `context.shared`
 *   (SharedArrayBuffers and {@linkcode SharedTable}s are shared, the rest
 *   copied).
 * - `init(spec, context)` runs once in each worker: build the read-only
 *   structure here (a lexicon, a model, a WebAssembly instance).
 * - `classify(row)` runs for each record; it returns the result (or a promise
 *   of it), or `undefined` to drop the record.
 * - `close()` runs in each worker when the pool closes.
 *
 * `Spec` is what `spec` holds (structured-cloneable), `Row` a record (for
 * CSV and TSV, an object of strings keyed by the header), `Result` what
 * classify returns, `Shared` what prepare returns.
 *
 * @example
 * ```ts
 * import type { Plugin, WorkerContext } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 *
 * type Spec = { words: string[] };
 * type Row = { id: string; text: string };
 * let words = new Set<string>();
 *
 * const plugin = {
 *   init(spec: Spec, _context: WorkerContext) {
 *     words = new Set(spec.words);
 *   },
 *   classify(row: Row) {
 *     return { id: row.id, hits: row.text.split(" ").filter((w) => words.has(w)).length };
 *   },
 * } satisfies Plugin<Spec, Row, { id: string; hits: number }>;
 *
 * plugin.init({ words: ["good"] }, { workerIndex: 0, workers: 1 });
 * assert.deepEqual(plugin.classify({ id: "1", text: "good good bad" }), { id: "1", hits: 2 });
 * ```
 */
export interface Plugin<
  Spec = unknown,
  Row = Record<string, string>,
  Result = unknown,
  Shared = unknown,
> {
  /** Runs once, in one worker; its result reaches each `init` as `context.shared`. */
  prepare?(spec: Spec): Shared | Promise<Shared>;
  /** Runs once in each worker before any record. */
  init?(spec: Spec, context: WorkerContext<Shared>): void | Promise<void>;
  /** Classifies one record; `undefined` drops it. Required unless classifyBatch is exported. */
  classify?(row: Row): Result | undefined | Promise<Result | undefined>;
  /**
   * Classifies rows in batches (`batchRecords` at a time, default 64): one
   * result per row, in order (or a promise of them). When exported, crunch
   * calls it instead of classify; a batch that throws is run again row by
   * row, so that only the failing rows fail.
   */
  classifyBatch?(rows: Row[]): (Result | undefined)[] | Promise<(Result | undefined)[]>;
  /** Runs in each worker when the pool closes. */
  close?(): void | Promise<void>;
}

/**
 * The type of a run's results, from the type argument given to `classify`
 * or `pool.classify`: a plug-in module's type (`typeof import("./m.ts")`)
 * gives what its `classify` (or `classifyBatch`) returns, awaited, without
 * `undefined` (a dropped record yields nothing); any other type is the
 * result's type itself.
 *
 * @example
 * ```ts
 * import type { ResultOf } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 *
 * type Module = { classify(row: { text: string }): Promise<{ hits: number } | undefined> };
 * const result: ResultOf<Module> = { hits: 2 }; // typed from the module
 * const same: ResultOf<{ hits: number }> = { hits: 3 }; // a result type stays as it is
 * assert.equal(result.hits + same.hits, 5);
 * ```
 */
export type ResultOf<R> = R extends { classify(...args: never[]): infer C }
  ? Exclude<Awaited<C>, undefined | void>
  : R extends { classifyBatch(...args: never[]): infer B }
    ? Awaited<B> extends readonly (infer E)[] ? Exclude<E, undefined | void> : unknown
  : R;
