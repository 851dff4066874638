/**
 * The typed errors crunch raises. Each says what went wrong and where.
 *
 * @module
 */

import type { SerializedError } from "./wire/protocol.ts";

/**
 * Base class of every error crunch raises, so callers can tell crunch's errors
 * from their own with one `instanceof`.
 *
 * @example
 * ```ts
 * import { CrunchError, ParseError } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 * const e = new ParseError("unclosed quote", { file: "a.csv", line: 3 });
 * assert.ok(e instanceof CrunchError);
 * ```
 */
export class CrunchError extends Error {
  /** Creates an error with crunch's class name. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Rebuilds an `Error` from a serialized one, keeping its name and the worker's stack. */
export function reviveError(error: SerializedError): Error {
  const revived = new Error(error.message);
  revived.name = error.name;
  revived.stack = error.stack ?? `${error.name}: ${error.message}`;
  return revived;
}

/**
 * The classifier module could not be used: not found, failed to load (syntax
 * error, missing import, permission), or it exports no `classify` function.
 * Raised before any record is read.
 *
 * @example
 * ```ts
 * import { ModuleError } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 * const e = new ModuleError("file:///x.ts", "has no classify export", ["init"]);
 * assert.equal(e.module, "file:///x.ts");
 * assert.deepEqual(e.exports, ["init"]);
 * assert.match(e.message, /file:\/\/\/x\.ts has no classify export.*init/);
 * ```
 */
export class ModuleError extends CrunchError {
  /** URL of the module. */
  readonly module: string;
  /** Names the module exports (empty when it could not be loaded). */
  readonly exports: string[];

  /**
   * `problem` says what is wrong; `exports` lists what the module does export,
   * when it could be loaded.
   */
  constructor(module: string, problem: string, exports?: string[], options?: ErrorOptions) {
    const found = exports === undefined
      ? ""
      : ` (exports found: ${exports.length ? exports.join(", ") : "none"})`;
    super(`classifier module ${module} ${problem}${found}`, options);
    this.module = module;
    this.exports = exports ?? [];
  }
}

/**
 * The module's `init(spec, context)` threw or rejected in a worker. The
 * original error (name, message and the worker's stack) is the `cause`.
 *
 * @example
 * ```ts
 * import { InitError } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 * const e = new InitError("file:///x.ts", 0, { name: "TypeError", message: "bad spec" });
 * assert.equal(e.message, "init() of file:///x.ts failed in worker 0: TypeError: bad spec");
 * ```
 */
export class InitError extends CrunchError {
  /** URL of the module. */
  readonly module: string;
  /** Index of the worker whose init failed. */
  readonly workerIndex: number;
  /** The error init threw, rebuilt with its name and the worker's stack. */
  declare readonly cause: Error;

  /** Builds the error from the worker's serialized error. */
  constructor(module: string, workerIndex: number, error: SerializedError) {
    super(`init() of ${module} failed in worker ${workerIndex}: ${error.name}: ${error.message}`, {
      cause: reviveError(error),
    });
    this.module = module;
    this.workerIndex = workerIndex;
  }
}

/** Where a record came from, for error messages. */
export interface RecordPosition {
  /** 0-based index of the record in the input. */
  index: number;
  /** 1-based physical line where the record starts (file and stream inputs only). */
  line?: number;
  /** Path or URL of the input file, when there is one. */
  file?: string;
}

function where(position: RecordPosition): string {
  const parts = [];
  if (position.file !== undefined) parts.push(position.file);
  if (position.line !== undefined) parts.push(`line ${position.line}`);
  parts.push(`record ${position.index}`);
  return parts.join(", ");
}

/**
 * The module's `prepare(spec)` threw, or returned something that cannot be
 * sent to the workers (functions, class instances with private state...).
 *
 * @example
 * ```ts
 * import { PrepareError } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 * const e = new PrepareError("file:///x.ts", "failed: RangeError: no lexicon");
 * assert.equal(e.message, "prepare() of file:///x.ts failed: RangeError: no lexicon");
 * ```
 */
export class PrepareError extends CrunchError {
  /** URL of the module. */
  readonly module: string;

  /** `problem` says what went wrong; `cause` is the original error. */
  constructor(module: string, problem: string, options?: ErrorOptions) {
    super(`prepare() of ${module} ${problem}`, options);
    this.module = module;
  }
}

/**
 * `classify(row)` threw or rejected for one record. The record, its position
 * and the original error (as `cause`) are kept.
 *
 * @example
 * ```ts
 * import { RecordError } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 * const e = new RecordError({ index: 4, line: 6, file: "a.csv" }, { id: "4" }, {
 *   name: "RangeError",
 *   message: "no such id",
 * });
 * assert.equal(e.message, "classify failed at a.csv, line 6, record 4: RangeError: no such id");
 * ```
 */
export class RecordError extends CrunchError {
  /** 0-based index of the record in the input. */
  readonly index: number;
  /** 1-based line where the record starts, for file and stream inputs. */
  readonly line?: number;
  /** The input file, when there is one. */
  readonly file?: string;
  /** The record as classify received it. */
  readonly record: unknown;
  /** The error classify threw, rebuilt with its name, message and the worker's stack. */
  declare readonly cause: Error;

  /** Builds the error for the record at `position`. */
  constructor(position: RecordPosition, record: unknown, error: SerializedError) {
    super(`classify failed at ${where(position)}: ${error.name}: ${error.message}`, {
      cause: reviveError(error),
    });
    this.index = position.index;
    this.line = position.line;
    this.file = position.file;
    this.record = record;
  }
}

/** Where a parse error is. */
export interface ParsePosition {
  /** The input file (or "<stream>" for a stream input). */
  file?: string;
  /** 1-based physical line where the bad record starts. */
  line: number;
  /** 0-based index the record would have had, when known. */
  index?: number;
  /** Byte offset in the input where the record starts, when known. */
  byte?: number;
  /** The record's raw text (its first 1,024 characters), when known. */
  text?: string;
}

/**
 * The input is malformed: a record with the wrong number of fields, an
 * unclosed quote, a line that is not valid JSON, a bad header.
 *
 * @example
 * ```ts
 * import { ParseError } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 * const e = new ParseError("expected 3 fields, found 2", { file: "a.csv", line: 7 });
 * assert.equal(e.message, "a.csv, line 7: expected 3 fields, found 2");
 * ```
 */
export class ParseError extends CrunchError {
  /** The input file, when there is one. */
  readonly file?: string;
  /** 1-based physical line where the bad record starts. */
  readonly line: number;
  /** 0-based index the record would have had, when known. */
  readonly index?: number;
  /** Byte offset in the input where the record starts, when known. */
  readonly byte?: number;
  /** The record's raw text (its first 1,024 characters), when known. */
  readonly text?: string;
  /** What is wrong, without the position. */
  readonly reason: string;

  /** `reason` says what is wrong; `position` says where. */
  constructor(reason: string, position: ParsePosition) {
    const at = [position.file, `line ${position.line}`].filter((p) => p !== undefined).join(", ");
    super(`${at}: ${reason}`);
    this.file = position.file;
    this.line = position.line;
    this.index = position.index;
    this.byte = position.byte;
    this.text = position.text;
    this.reason = reason;
  }
}

/**
 * The input could not be read as it was when the run opened it: the file
 * shrank or was rewritten under the run. Nothing after the change is
 * trusted; the run ends.
 *
 * @example
 * ```ts
 * import { InputError } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 * const e = new InputError("a.csv", "it shrank from 900 to 300 bytes while it was being read");
 * assert.equal(e.message, "a.csv: it shrank from 900 to 300 bytes while it was being read");
 * ```
 */
export class InputError extends CrunchError {
  /** The input file. */
  readonly file?: string;
  /** What is wrong, without the file. */
  readonly reason: string;

  /** `reason` says what happened to `file`. */
  constructor(file: string | undefined, reason: string, options?: ErrorOptions) {
    super(`${file ?? "the input"}: ${reason}`, options);
    this.file = file;
    this.reason = reason;
  }
}

/**
 * A worker died without reporting a result: the classifier called
 * `Deno.exit()` or `self.close()`, or an error escaped from a timer or a
 * promise outside `classify`.
 *
 * @example
 * ```ts
 * import { WorkerCrashError } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 * const e = new WorkerCrashError(1, "the classifier called Deno.exit(3)");
 * assert.equal(e.message, "worker 1 died: the classifier called Deno.exit(3)");
 * ```
 */
export class WorkerCrashError extends CrunchError {
  /** Index of the worker that died. */
  readonly workerIndex: number;

  /** `reason` says how the worker died; `cause` is the error that killed it, if any. */
  constructor(workerIndex: number, reason: string, options?: ErrorOptions) {
    super(`worker ${workerIndex} died: ${reason}`, options);
    this.workerIndex = workerIndex;
  }
}

/**
 * Thrown by a plug-in's classify to say that the failure is transient (a
 * timeout, a 429 or 503 from a server): crunch tries the record again, up
 * to `retries` times, after an exponential backoff with jitter, or after
 * `retryAfter` milliseconds when given. Any error with `retryable: true`
 * counts the same.
 *
 * @example
 * ```ts
 * import { RetryableError } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 * const e = new RetryableError("the server said 429", { retryAfter: 1000 });
 * assert.deepEqual([e.retryable, e.retryAfter], [true, 1000]);
 * ```
 */
export class RetryableError extends Error {
  /** Always true: what crunch looks for. */
  readonly retryable = true;
  /** Milliseconds to wait before the next attempt, when the failure says (Retry-After). */
  readonly retryAfter?: number;

  /** `message` says what failed; `retryAfter` how long to wait, in ms. */
  constructor(message: string, options: ErrorOptions & { retryAfter?: number } = {}) {
    super(message, options);
    this.name = "RetryableError";
    this.retryAfter = options.retryAfter;
  }
}
