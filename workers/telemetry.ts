/**
 * A worker's spans, when Deno's telemetry is on: `crunch.init` around the
 * plug-in's `init`, and a `crunch.task` for each task of a run whose span
 * crossed to it (`traceparent`), with the task's stage times as attributes.
 * With telemetry off nothing is loaded and nothing is timed beyond the
 * stage clock the report uses anyway.
 *
 * @module
 */

import { type OtelApi, otelApi, parentContext } from "../lib/wire/trace.ts";
import type { StageClock } from "./stage_clock.ts";

/** The spans of one run's tasks in this worker. */
export class TaskSpans {
  readonly #api: OtelApi;
  readonly #traceparent: string;

  private constructor(api: OtelApi, traceparent: string) {
    this.#api = api;
    this.#traceparent = traceparent;
  }

  /** The spans of a run whose span is `traceparent`, when telemetry is on here. */
  static async of(traceparent: string): Promise<TaskSpans | undefined> {
    const api = await otelApi();
    return api && new TaskSpans(api, traceparent);
  }

  /** Task `id` of `records` records, timed by `clock`, ended now. */
  task(id: number, records: number, clock: StageClock): void {
    const times = clock.times();
    const span = this.#api.trace.getTracer("crunch").startSpan(
      "crunch.task",
      {
        startTime: performance.timeOrigin + clock.started,
        attributes: {
          "crunch.task": id,
          "crunch.records": records,
          "crunch.read_ms": times.read,
          "crunch.parse_ms": times.parse,
          "crunch.classify_ms": times.classify,
          "crunch.encode_ms": times.encode,
          "crunch.send_ms": times.send,
        },
      },
      parentContext(this.#api, this.#traceparent),
    );
    span.end();
  }
}

/** Runs `init` inside a `crunch.init` span when telemetry is on (worker `index`). */
export async function initSpan<T>(index: number | undefined, init: () => Promise<T>): Promise<T> {
  const api = await otelApi();
  if (api === undefined) return await init();
  const span = api.trace.getTracer("crunch").startSpan("crunch.init", {
    attributes: { "crunch.worker": index ?? -1 },
  });
  try {
    return await init();
  } catch (error) {
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: String(error) });
    throw error;
  } finally {
    span.end();
  }
}
