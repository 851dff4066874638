/**
 * Retrying records whose classify fails with an error the plug-in marks as
 * transient, with exponential backoff and jitter, honouring a `retryAfter`
 * the error carries; and spacing calls to stay within a shared rate limit.
 *
 * @module
 */

import type { RetryPolicy } from "../lib/wire/task.ts";

/**
 * True for an error the plug-in marks as worth retrying: crunch's
 * `RetryableError` (by name, as the plug-in may import another copy of it)
 * or any error with `retryable: true`.
 */
export function isRetryable(error: unknown): boolean {
  if (error === null || typeof error !== "object") return false;
  const marked = error as { name?: unknown; retryable?: unknown };
  return marked.retryable === true || marked.name === "RetryableError";
}

/** How long to wait before attempt `attempt` (1-based) after `error`. */
export function backoffMs(policy: RetryPolicy, attempt: number, error: unknown): number {
  const after = (error as { retryAfter?: unknown })?.retryAfter;
  if (typeof after === "number" && Number.isFinite(after) && after >= 0) {
    return Math.min(after, policy.maxMs);
  }
  // Full jitter: a uniform wait up to the exponential bound, so retries of many records spread.
  const bound = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.random() * bound;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `call` again after `first` failed, while it fails with retryable
 * errors and attempts remain; `retried` is told of each new attempt.
 */
export async function retrying<T>(
  call: () => T | Promise<T>,
  first: unknown,
  policy: RetryPolicy,
  retried: () => void,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let error = first;
  for (let attempt = 1; attempt <= policy.max && isRetryable(error); attempt++) {
    await sleep(backoffMs(policy, attempt, error));
    retried();
    try {
      return { ok: true, value: await call() };
    } catch (again) {
      error = again;
    }
  }
  return { ok: false, error };
}

/**
 * A rate limit shared by every worker of a run: calls are spaced
 * `intervalUs` apart, the next free time kept in a SharedArrayBuffer that
 * each worker reserves from with a compare-and-swap.
 */
export class RateGate {
  readonly #slot: BigInt64Array;
  readonly #interval: bigint;

  /** Over `buffer` (8 bytes, shared; a fresh one for a process of its own). */
  constructor(buffer: SharedArrayBuffer | ArrayBuffer, intervalUs: number) {
    this.#slot = new BigInt64Array(buffer);
    this.#interval = BigInt(Math.max(1, Math.round(intervalUs)));
  }

  /** Waits for this worker's turn. */
  async take(): Promise<void> {
    for (;;) {
      const now = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
      const next = Atomics.load(this.#slot, 0);
      const at = next > now ? next : now;
      if (Atomics.compareExchange(this.#slot, 0, next, at + this.#interval) !== next) continue;
      const wait = Number(at - now) / 1000;
      if (wait > 0) await sleep(wait);
      return;
    }
  }
}
