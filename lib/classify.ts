/**
 * The one-call entry point: start workers, classify one input, stop them.
 *
 * @module
 */

import type { Input } from "./input.ts";
import { type ClassifyOptions, resolveRunOptions, resolveWorkers } from "./options.ts";
import { startBackend } from "./backends/start.ts";
import { Engine } from "./run/engine.ts";
import { type Results, RunIterator } from "./run/iterator.ts";

/**
 * Runs the classifier `module` over every record of `input` on `workers`
 * Web Workers and yields the results, as they complete (default) or in
 * input order (`ordered: true`).
 *
 * Each worker imports `module` and calls its `init(spec, context)` once;
 * then every record goes to its `classify(row)`. A result of `undefined`
 * yields nothing. The workers start at the first `next()` and stop when the
 * iteration ends, fails, is broken out of, or `signal` aborts. `R` names the
 * type of what is yielded (crunch cannot check it: it is what the module's
 * classify returns, a `Tagged` with `tagged`, a `Uint8Array` with `encode`).
 * `.batches()` on the returned iterator yields the same results in arrays,
 * which costs less per result when there are millions of them.
 *
 * @example
 * ```ts
 * import { classify } from "@crunch/crunch";
 *
 * // examples/hits.ts exports init(spec) and classify(row)
 * const hits = classify("examples/hits.ts", "examples/reviews.csv", {
 *   spec: { words: ["good"] },
 *   tagged: true,
 * });
 * for await (const hit of hits) console.log(hit); // { index: 0, line: 2, result: { id: "1", hits: 1 } }, ...
 * ```
 */
export function classify<R = unknown>(
  module: string | URL,
  input: Input,
  options: ClassifyOptions = {},
): Results<R> {
  const workers = resolveWorkers(options.workers);
  const engine = new Engine(input, resolveRunOptions(options), {
    workers,
    acquire: (signal) => startBackend(module, { ...options, workers }, signal),
    release: (backend, how) => {
      if (how === "done") return backend?.close() ?? Promise.resolve([]);
      backend?.terminate();
      return Promise.resolve();
    },
  });
  return new RunIterator<R>(engine);
}
