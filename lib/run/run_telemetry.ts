/**
 * A run as OpenTelemetry sees it, when Deno's telemetry is on: a
 * `crunch.run` span from the workers' start to the end, with the report's
 * figures as attributes and its bottleneck, and the run's counters and
 * stage times as metrics. Its `traceparent` goes to every worker (through
 * Redis too), whose `crunch.task` spans are its children: one trace covers
 * the cluster.
 *
 * @module
 */

import type { RunReport } from "../report.ts";
import { type OtelApi, otelApi, traceparentOf } from "../wire/trace.ts";

type Span = ReturnType<ReturnType<OtelApi["trace"]["getTracer"]>["startSpan"]>;

/** One run's span and metrics. */
export class RunTelemetry {
  readonly #api: OtelApi;
  readonly #span: Span;
  #ended = false;

  private constructor(api: OtelApi, span: Span) {
    this.#api = api;
    this.#span = span;
  }

  /** The run's telemetry, when Deno's telemetry is on (else undefined: nothing is loaded). */
  static async start(file: string | undefined, workers: number): Promise<RunTelemetry | undefined> {
    const api = await otelApi();
    if (api === undefined) return undefined;
    const span = api.trace.getTracer("crunch").startSpan("crunch.run", {
      attributes: { "crunch.input": file ?? "", "crunch.workers": workers },
    });
    return new RunTelemetry(api, span);
  }

  /** The run span's W3C trace context, for the workers. */
  get traceparent(): string {
    return traceparentOf(this.#span);
  }

  /** Ends the span (once) with what `report` says, and records the run's metrics. */
  end(report: RunReport, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const span = this.#span;
    span.setAttributes({
      "crunch.records": report.records,
      "crunch.results": report.results,
      "crunch.errors": report.errors,
      "crunch.retries": report.retries,
      "crunch.respawns": report.respawns,
      "crunch.bottleneck": report.bottleneck.kind,
      "crunch.bottleneck.sentence": report.bottleneck.sentence,
    });
    if (error !== undefined) {
      span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message: String(error) });
    }
    span.end();
    const meter = this.#api.metrics.getMeter("crunch");
    meter.createCounter("crunch.records").add(report.records);
    meter.createCounter("crunch.results").add(report.results);
    meter.createCounter("crunch.errors").add(report.errors);
    const stages = meter.createHistogram("crunch.stage.duration", { unit: "ms" });
    for (const worker of report.workers) {
      for (const [stage, ms] of Object.entries(worker.stages)) {
        stages.record(ms, {
          "crunch.stage": stage.replace(/Ms$/, ""),
          "crunch.worker": worker.worker,
        });
      }
    }
  }
}
