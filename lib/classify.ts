/**
 * The one-call entry point: start workers, classify one input, stop them.
 *
 * @module
 */

import type { Input } from "./input/source.ts";
import {
  checkClassifyKeys,
  checkPoolOptions,
  type ClassifyOptions,
  type ResolvedRunOptions,
  resolveRunOptions,
  resolveWorkers,
  type Tagged,
} from "./options.ts";
import type { OutputFormat } from "./formats/format.ts";
import { startBackend } from "./backends/start.ts";
import type { Lease } from "./run/engine.ts";
import { pumpFor } from "./run/pump_for.ts";
import type { Files } from "./files.ts";
import { type Results, RunIterator } from "./run/iterator.ts";
import type { ResultOf } from "./plugin.ts";
import type { OutputPart } from "./run/parts_pump.ts";

/**
 * Runs the classifier `module` over every record of `input` on `workers`
 * Web Workers and yields the results, as they complete (default) or in
 * input order (`ordered: true`).
 *
 * Each worker imports `module` and calls its `init(spec, context)` once;
 * then every record goes to its `classify(row)`. A result of `undefined`
 * yields nothing. The workers start at the first `next()` and stop when the
 * iteration ends, fails, is broken out of, or `signal` aborts. No more
 * workers start than the input has chunks for. `R` names the type of what
 * the module's classify returns (crunch cannot check it); the results are
 * typed from the options: {@linkcode OutputPart}s with `outputDir` (the
 * workers wrote the results), `Uint8Array` pieces with `encode`, `Tagged<R>`
 * with `tagged: true`, else `R`. Unknown option keys and values of the wrong
 * type throw a `TypeError` at once; a spec that cannot be sent to workers, a
 * `CrunchError` naming where inside it the culprit lies.
 * `.batches()` on the returned iterator yields the same results in arrays,
 * which costs less per result when there are millions of them.
 *
 * @example
 * ```ts
 * import { classify } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 *
 * // examples/hits.ts exports init(spec) and classify(row)
 * const hits = classify("examples/hits.ts", "examples/reviews.csv", {
 *   spec: { words: ["good"] },
 *   tagged: true,
 *   ordered: true,
 * });
 * const all = [];
 * for await (const hit of hits) all.push(hit);
 * assert.deepEqual(all, [
 *   { index: 0, line: 2, result: { id: "1", hits: 1 } },
 *   { index: 2, line: 4, result: { id: "3", hits: 1 } },
 * ]);
 * ```
 */
export function classify<_R = OutputPart>(
  module: string | URL,
  input: Input,
  options: ClassifyOptions & { outputDir: string },
): Results<OutputPart>;
/** With `encode`: `Uint8Array` pieces of one document in that format. */
export function classify<_R = Uint8Array>(
  module: string | URL,
  input: Input,
  options: ClassifyOptions & { encode: OutputFormat },
): Results<Uint8Array>;
/**
 * With `tagged: true` (and no `encode`) over a file or stream: {@linkcode Tagged}
 * results `{ index, line, result }`, each with its line.
 */
export function classify<R = unknown>(
  module: string | URL,
  input: string | URL | Files | ReadableStream<Uint8Array> | Deno.FsFile,
  options: ClassifyOptions & { tagged: true },
): Results<Tagged<ResultOf<R>> & { line: number }>;
/** With `tagged: true` (and no `encode`): {@linkcode Tagged} results `{ index, line, result }`. */
export function classify<R = unknown>(
  module: string | URL,
  input: Input,
  options: ClassifyOptions & { tagged: true },
): Results<Tagged<ResultOf<R>>>;
/**
 * Without `tagged` or `encode`: what classify returned, `R` (or, for a
 * module's type, `typeof import("./m.ts")`, what its classify returns).
 */
export function classify<R = unknown>(
  module: string | URL,
  input: Input,
  options?: ClassifyOptions,
): Results<ResultOf<R>>;
export function classify<R = unknown>(
  module: string | URL,
  input: Input,
  options: ClassifyOptions = {},
): Results<R> {
  return startRun<R>(module, input, options);
}

/**
 * {@linkcode classify} with settings the command needs and the library does
 * not offer: `consoleToStderr` sends the plug-in's console output to
 * standard error, as standard output holds the results.
 */
export function startRun<R>(
  module: string | URL,
  input: Input,
  options: ClassifyOptions,
  internal:
    & { consoleToStderr?: boolean }
    & Pick<
      ResolvedRunOptions,
      "startAt" | "checkpoints" | "documentState" | "onMark" | "select" | "partsLog"
    > = {},
): RunIterator<R> {
  checkClassifyKeys(options);
  checkPoolOptions(options, false);
  const workers = resolveWorkers(options.workers);
  const lease: Lease = {
    workers,
    // No more workers than the input has tasks for (a 4-record file gets one).
    acquire: (signal, tasks) =>
      startBackend(
        module,
        { ...options, consoleToStderr, workers: Math.min(workers, tasks ?? workers) },
        signal,
      ),
    release: (backend, how) => {
      if (how === "done") return backend?.close() ?? Promise.resolve([]);
      return backend?.terminate() ?? Promise.resolve();
    },
  };
  const { consoleToStderr, ...resume } = internal;
  const resolved = { ...resolveRunOptions(options, false), ...resume };
  return new RunIterator<R>(pumpFor(input, resolved, lease));
}
