/**
 * OpenTelemetry, when Deno's built-in telemetry is on (`OTEL_DENO=true`):
 * the tracer and meter of `npm:@opentelemetry/api`, which Deno registers
 * its providers with, loaded only then (a run without telemetry loads
 * nothing and measures nothing more), and the W3C `traceparent` that carries
 * a run's span to its workers, through Redis too.
 *
 * @module
 */

// Inline, not through deno.json's imports: a script that imports crunch from a checkout, without
// crunch's config, still resolves it.
// deno-lint-ignore no-import-prefix
import type * as Api from "npm:@opentelemetry/api@1.10.0";

/** The API, once loaded. */
export type OtelApi = typeof Api;

/** Whether Deno exports telemetry in this process. */
export function telemetryOn(): boolean {
  try {
    return Deno.env.get("OTEL_DENO") === "true";
  } catch {
    return false; // no --allow-env: off
  }
}

/** The OpenTelemetry API when telemetry is on, else undefined. */
export async function otelApi(): Promise<OtelApi | undefined> {
  if (!telemetryOn()) return undefined;
  // deno-lint-ignore no-import-prefix
  return await import("npm:@opentelemetry/api@1.10.0");
}

/** The `traceparent` of `span`. */
export function traceparentOf(span: Api.Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, "0")}`;
}

/** A context whose parent is the span `traceparent` names (elsewhere: another thread or machine). */
export function parentContext(api: OtelApi, traceparent: string): Api.Context {
  const [, traceId, spanId, flags] = traceparent.split("-");
  return api.trace.setSpanContext(api.context.active(), {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16),
    isRemote: true,
  });
}
