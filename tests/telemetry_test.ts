/**
 * OpenTelemetry: with Deno's telemetry on, a run exports a `crunch.run`
 * span, a `crunch.task` span for each task (a child of the run's, from the
 * workers) and a `crunch.init` per worker, and the run's metrics, to an
 * OTLP receiver this test runs on loopback (OTLP/HTTP with JSON); through
 * Redis, the crunch workers' task spans join the coordinator's trace.
 */
import assert from "node:assert/strict";
import { fixture, numberedCsv, runCrunch, tempFile } from "./helpers.ts";
import { HAVE_REDIS, RedisServer, startWorkers } from "./redis_harness.ts";

interface Span {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** An OTLP/HTTP receiver (JSON) on a loopback port of its own: the spans and metric names it got. */
function receiver() {
  const spans: Span[] = [];
  const metrics = new Set<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json();
    const path = new URL(req.url).pathname;
    if (path === "/v1/traces") {
      for (const r of body.resourceSpans ?? []) {
        for (const s of r.scopeSpans ?? []) spans.push(...s.spans);
      }
    } else if (path === "/v1/metrics") {
      for (const r of body.resourceMetrics ?? []) {
        for (const s of r.scopeMetrics ?? []) for (const m of s.metrics) metrics.add(m.name);
      }
    }
    return Response.json({});
  });
  const env = {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
    OTEL_DENO_CONSOLE: "ignore",
  };
  return { spans, metrics, env, stop: () => server.shutdown() };
}

const attribute = (span: Span, key: string) =>
  Object.values(span.attributes.find((a) => a.key === key)?.value ?? {})[0];

Deno.test("with OTEL_DENO=true a run exports crunch.run, its crunch.task children, crunch.init and metrics", async () => {
  const otel = receiver();
  try {
    const path = await tempFile("otel.csv", numberedCsv(3_000));
    const run = await runCrunch([
      fixture("spin.ts").pathname,
      path,
      "-s",
      '{"us": 50}',
      "-w",
      "2",
      "--chunk-bytes",
      "8k",
    ], { env: otel.env });
    assert.equal(run.code, 0, run.stderr);
    const [root] = otel.spans.filter((s) => s.name === "crunch.run");
    assert.ok(root, `no crunch.run among ${otel.spans.map((s) => s.name)}`);
    assert.equal(Number(attribute(root, "crunch.records")), 3000);
    assert.match(String(attribute(root, "crunch.bottleneck")), /classify|start-up/);
    const tasks = otel.spans.filter((s) => s.name === "crunch.task");
    assert.ok(tasks.length >= 4, `${tasks.length} task spans`);
    for (const task of tasks) {
      assert.equal(task.traceId, root.traceId);
      assert.equal(task.parentSpanId, root.spanId);
    }
    const records = tasks.reduce((n, t) => n + Number(attribute(t, "crunch.records")), 0);
    assert.equal(records, 3_000);
    assert.equal(otel.spans.filter((s) => s.name === "crunch.init").length, 2);
    assert.ok(otel.metrics.has("crunch.records"), [...otel.metrics].join(", "));
    assert.ok(otel.metrics.has("crunch.stage.duration"));
  } finally {
    await otel.stop();
  }
});

Deno.test({
  name: "through Redis the crunch workers' task spans join the coordinator's trace",
  ignore: !HAVE_REDIS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const otel = receiver();
    const server = await RedisServer.start();
    const workers = await startWorkers(server, 1, ["-w", "2"], "", otel.env);
    try {
      const path = await tempFile("otel-redis.csv", numberedCsv(2_000));
      const run = await runCrunch([
        fixture("spin.ts").pathname,
        path,
        "--redis",
        server.url(),
        "--chunk-bytes",
        "8k",
      ], { env: otel.env });
      assert.equal(run.code, 0, run.stderr);
      // The crunch worker exports on its own schedule: wait (bounded) for its task spans.
      const until = performance.now() + 30_000;
      const [root] = otel.spans.filter((s) => s.name === "crunch.run");
      assert.ok(root);
      const tasks = () => otel.spans.filter((s) => s.name === "crunch.task");
      while (tasks().reduce((n, t) => n + Number(attribute(t, "crunch.records")), 0) < 2_000) {
        assert.ok(performance.now() < until, `${tasks().length} task spans after 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      for (const task of tasks()) assert.equal(task.traceId, root.traceId);
    } finally {
      await Promise.all(workers.map((w) => w.stop("SIGTERM")));
      await server.stop();
      await otel.stop();
    }
  },
});
