/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The crunch worker: loads the plug-in once, then parses and classifies the
 * chunks the main thread sends, one `done` message per chunk.
 *
 * Work is queued and processed one chunk at a time with a hop through the
 * event loop between chunks, so `cancel` and `terminate()` take effect
 * promptly even under a steady stream of work.
 *
 * @module
 */

import type {
  BatchMessage,
  ChunkMessage,
  DoneMessage,
  Failure,
  FromWorker,
  RunMessage,
  ToWorker,
} from "../lib/protocol.ts";
import { serializeError } from "../lib/protocol.ts";
import { parseDelimited, rowBuilder } from "./csv.ts";
import { parseNdjson } from "./ndjson.ts";
import type { ParsedChunk } from "./parsed_chunk.ts";
import { loadPlugin, type Plugin } from "./plugin.ts";

function send(message: FromWorker): void {
  self.postMessage(message);
}

// Deno sends the main thread no event when a worker exits or closes itself,
// so announce it before it happens.
const realClose = self.close.bind(self);
const realExit = Deno.exit;
Object.defineProperty(Deno, "exit", {
  value: (code?: number): never => {
    send({ type: "exit", via: "Deno.exit", code });
    return realExit(code);
  },
});
self.close = () => {
  send({ type: "exit", via: "self.close" });
  realClose();
};

// An error escaping a timer or a stray promise would kill this worker with a
// bare message; report it whole instead, then stop.
function fatal(error: unknown): void {
  send({ type: "fatal", error: serializeError(error) });
  realClose();
}
self.addEventListener("error", (event) => {
  event.preventDefault();
  fatal(event.error ?? new Error(event.message));
});
self.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  fatal(event.reason);
});

let plugin: Plugin | undefined;
let run: (RunMessage & { build?: (fields: string[]) => Record<string, string> }) | undefined;
const queue: (ChunkMessage | BatchMessage | { type: "close" })[] = [];
let draining = false;
const decoder = new TextDecoder();

// A macrotask hop: lets messages (cancel, close) and terminate() in between chunks.
const hop = new MessageChannel();
let wake: (() => void) | undefined;
hop.port1.onmessage = () => wake?.();
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    wake = resolve;
    hop.port2.postMessage(0);
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

function parse(message: ChunkMessage, current: NonNullable<typeof run>): ParsedChunk {
  const text = decoder.decode(
    new Uint8Array(message.buffer, message.start, message.end - message.start),
  );
  if (current.format === "ndjson") return parseNdjson(text);
  const delimiter = current.format === "tsv" ? "\t" : ",";
  current.build ??= rowBuilder(current.columns ?? []);
  return parseDelimited(text, delimiter, current.columns ?? [], current.build);
}

async function work(message: ChunkMessage | BatchMessage): Promise<void> {
  const current = run;
  if (current === undefined || current.run !== message.run || plugin === undefined) return;
  let rows: unknown[];
  let lines: number[] | undefined;
  let bad: ParsedChunk["bad"] | undefined;
  let newlines = 0;
  if (message.type === "chunk") {
    const parsed = parse(message, current);
    rows = parsed.rows;
    lines = parsed.lines;
    bad = parsed.bad.size ? parsed.bad : undefined;
    newlines = parsed.newlines;
  } else {
    rows = message.rows;
  }
  const classify = plugin.classify;
  const results: unknown[] = [];
  const offsets: number[] = [];
  const failures: Failure[] = [];
  const { stopOnError } = current;
  let i = 0;
  for (; i < rows.length; i++) {
    const problem = bad?.get(i);
    if (problem !== undefined) {
      failures.push({
        kind: "parse",
        offset: i,
        line: problem.line,
        error: { name: "ParseError", message: problem.reason },
      });
      if (stopOnError) break;
      continue;
    }
    const row = rows[i];
    try {
      let result = classify(row);
      if (isThenable(result)) result = await result;
      if (result !== undefined) {
        results.push(result);
        offsets.push(i);
      }
    } catch (error) {
      failures.push({
        kind: "record",
        offset: i,
        line: lines?.[i] ?? 0,
        record: row,
        error: serializeError(error),
      });
      if (stopOnError) break;
    }
    if (run !== current) return; // cancelled while awaiting an async classify
  }
  const done: DoneMessage = {
    type: "done",
    run: message.run,
    seq: message.seq,
    results,
    failures,
    records: Math.min(i + 1, rows.length),
    newlines,
  };
  post(done, current.tagged, offsets, rows, lines);
}

/**
 * Posts `done`, with each result's offset and line when tagged. Results that
 * cannot be cloned become failures of their records.
 */
function post(
  done: DoneMessage,
  tagged: boolean,
  offsets: number[],
  rows: unknown[],
  lines: number[] | undefined,
): void {
  const tag = () => {
    if (!tagged) return;
    done.offsets = offsets;
    if (lines) done.lines = offsets.map((offset) => lines[offset]);
  };
  tag();
  try {
    send(done);
    return;
  } catch (error) {
    if (!(error instanceof DOMException && error.name === "DataCloneError")) throw error;
  }
  const keep: number[] = [];
  for (let k = 0; k < done.results.length; k++) {
    try {
      structuredClone(done.results[k]);
      keep.push(k);
    } catch (error) {
      const offset = offsets[k];
      done.failures.push({
        kind: "record",
        offset,
        line: lines?.[offset] ?? 0,
        record: rows[offset],
        error: {
          name: "DataCloneError",
          message: `classify returned a value that cannot be sent back: ${
            (error as Error).message
          }`,
        },
      });
    }
  }
  done.failures.sort((a, b) => a.offset - b.offset);
  done.results = keep.map((k) => done.results[k]);
  offsets = keep.map((k) => offsets[k]);
  tag();
  send(done);
}

async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  try {
    while (queue.length) {
      const message = queue.shift()!;
      if (message.type === "close") {
        await shutdown();
        return;
      }
      await work(message);
      await yieldToEventLoop();
    }
  } finally {
    draining = false;
  }
}

async function shutdown(): Promise<void> {
  try {
    await plugin?.close?.();
    send({ type: "closed" });
  } catch (error) {
    send({ type: "closed", error: serializeError(error) });
  }
}

async function start(message: Extract<ToWorker, { type: "init" }>): Promise<void> {
  const loaded = await loadPlugin(message.module);
  if (!loaded.ok) {
    const { stage, error, exports } = loaded;
    send({ type: "load-failed", stage, error, exports });
    return;
  }
  try {
    await loaded.plugin.init?.(message.spec, message.context);
  } catch (error) {
    send({ type: "init-failed", error: serializeError(error) });
    return;
  }
  plugin = loaded.plugin;
  send({ type: "ready" });
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "init":
      start(message);
      break;
    case "run":
      run = message;
      break;
    case "cancel":
      if (run?.run === message.run) run = undefined;
      for (let k = queue.length - 1; k >= 0; k--) {
        const queued = queue[k];
        if (queued.type !== "close" && queued.run === message.run) queue.splice(k, 1);
      }
      break;
    case "chunk":
    case "batch":
    case "close":
      queue.push(message);
      drain();
      break;
  }
};
