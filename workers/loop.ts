/**
 * The work loop of a crunch worker, whatever carries its messages (a Web
 * Worker's `postMessage`, a worker process's pipes): it loads the plug-in
 * once, then parses and classifies the tasks it is sent, one `done` message
 * per task.
 *
 * Work is queued and processed one task at a time with a hop through the
 * event loop between tasks, so `cancel` and `terminate()` take effect
 * promptly even under a steady stream of work.
 *
 * @module
 */

import type { BatchMessage, ChunkMessage, RangeMessage, ToWorker } from "../lib/wire/protocol.ts";
import {
  DEFAULT_BATCH_RECORDS,
  DEFAULT_RETRY,
  RAW_TEXT_CHARS,
  serializeError,
} from "../lib/wire/protocol.ts";
import { delimiterOf } from "../lib/formats/format.ts";
import { parseDelimited, type RecordParsers, recordParsers } from "../lib/formats/csv.ts";
import { parseNdjson } from "../lib/formats/ndjson.ts";
import type { BadRecord, ParsedChunk } from "../lib/formats/parsed_chunk.ts";
import { isRetryable, RateGate, retrying } from "./retry.ts";
import { classifyUnits } from "./units.ts";
import { type CurrentRun, Piece } from "./piece.ts";
import { exit, send, setTransport, type WorkerTransport } from "./transport.ts";
import { loadPlugin, type Plugin } from "./load_plugin.ts";
import { FileChanged, RangeReader } from "./range_reader.ts";
import { setImmediate } from "node:timers";

export type { WorkerTransport } from "./transport.ts";

/** Reports an error that escaped outside classify (a timer, a stray promise), then ends the worker. */
export function fatal(error: unknown): void {
  send({ type: "fatal", error: serializeError(error) });
  exit();
}

let plugin: Plugin | undefined;

let run: CurrentRun | undefined;
const queue: (ChunkMessage | RangeMessage | BatchMessage | { type: "close" })[] = [];
let draining = false;
const decoder = new TextDecoder();
const encoder = new TextEncoder();
/** The file of the current run's ranges, kept open while work keeps coming. */
const ranges = new RangeReader();

// A macrotask hop that lets messages (cancel, close) and terminate() in. Measured
// on Deno 2.9: setImmediate costs ~0.02 ms and terminate() takes effect at it;
// a MessageChannel hop is as cheap but terminate() waited seconds; setTimeout(0)
// works but costs ~2 ms once nested timers are clamped.
let lastYield = performance.now();
/** Longest stretch of classify calls between two yields. */
const YIELD_EVERY_MS = 20;
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) =>
    setImmediate(() => {
      lastYield = performance.now();
      resolve();
    })
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/** The run's rate limit, made once per run: shared by the threads, this process's own share. */
function rateGate(current: CurrentRun): RateGate | undefined {
  const rate = current.rate;
  if (rate === undefined) return undefined;
  return current.gate ??= new RateGate(rate.buffer ?? new ArrayBuffer(8), rate.intervalUs);
}

/** Record parsers by delimiter and columns: runs over many files of one header share them. */
const parserCache = new Map<string, RecordParsers>();

function parsersFor(columns: string[], delimiter: string): RecordParsers {
  const key = `${delimiter}\0${columns.join("\0")}`;
  let parsers = parserCache.get(key);
  if (parsers === undefined) {
    if (parserCache.size > 64) parserCache.clear();
    parserCache.set(key, parsers = recordParsers(columns, delimiter));
  }
  return parsers;
}

function parse(text: string, current: CurrentRun): ParsedChunk {
  if (current.format === "ndjson") return parseNdjson(text);
  const delimiter = delimiterOf(current.format, current.delimiter);
  current.parsers ??= parsersFor(current.columns ?? [], delimiter);
  return parseDelimited(text, delimiter, current.columns ?? [], current.parsers);
}

/**
 * How far past its end, in range sizes, a range reads on for the end of a
 * record that a quoted field carries over its last LF. A range that started
 * at a wrong place (inside a quoted field) sees the quotes inverted and may
 * search far; its results are dropped anyway, so the search is bounded.
 */
const STRETCH_RANGES = 4;

/** Characters of string results above which a piece is sent at once. */
const PIECE_CHARS = 8 << 20;

/** Longest time a chunk's results wait in a worker before a partial message carries them. */
const FLUSH_EVERY_MS = 50;
/** Records between two looks at the clock; adapts to the classifier's speed. */
let checkEvery = 16;

async function work(message: ChunkMessage | RangeMessage | BatchMessage): Promise<void> {
  if (plugin === undefined) {
    // Never meant to happen; dropping the task would leave the main thread waiting for it
    // forever, so die loudly instead: the task is retried on a fresh worker.
    fatal(new Error(`task ${message.seq} of run ${message.run} came before init finished`));
    return;
  }
  const current = run;
  // A task of a cancelled or finished run: nobody waits for it.
  if (current === undefined || current.run !== message.run) return;
  let rows: unknown[];
  let lines: number[] | undefined;
  let bad: ParsedChunk["bad"] | undefined;
  let newlines = 0;
  /** The chunk's text and the input's byte offset where it starts, for malformed records. */
  let source = "";
  let sourceByte: number | undefined;
  /** Where the last malformed record's bytes were counted to: records come in order. */
  let countedTo = 0;
  /** Ranges: where this worker cut, and whether the cut proved right. */
  let cut: { start?: number; end?: number; clean: boolean; changed?: string } | undefined;
  if (message.type === "batch") {
    rows = message.rows;
  } else {
    let text = "";
    if (message.type === "chunk") {
      text = decoder.decode(
        new Uint8Array(message.buffer, message.start, message.end - message.start),
      );
    } else {
      const { path, offset, end, exact, maxRecordBytes, fingerprint } = message;
      try {
        const range = ranges.read(
          message.run,
          path,
          offset,
          end,
          exact,
          maxRecordBytes,
          fingerprint,
        );
        text = decoder.decode(range.bytes);
        cut = { start: range.start, end: range.start + range.bytes.length, clean: range.found };
      } catch (error) {
        ranges.close();
        // The file changed under the run (the run ends), or this worker cannot read it (a
        // sandbox, say: main reads it instead).
        cut = error instanceof FileChanged
          ? { clean: false, changed: error.message }
          : { clean: false };
      }
    }
    let parsed = parse(text, current);
    const { format } = current;
    if (cut?.clean && parsed.openQuote && message.type === "range" && format !== "rows") {
      // The range's last LF lies inside a quoted field: read on to where that record really
      // ends. (The next range's guessed start is then wrong, and main re-runs it from here.)
      const stretched = ranges.stretch(
        message.run,
        message.path,
        cut.start!,
        cut.end! - cut.start!,
        Math.min(message.maxRecordBytes, STRETCH_RANGES * (message.end - message.offset)),
        format,
        current.delimiter,
      );
      if (stretched === undefined) cut.clean = false;
      else {
        text = decoder.decode(stretched);
        parsed = parse(text, current);
        cut.end = cut.start! + stretched.length;
      }
    }
    rows = parsed.rows;
    lines = parsed.lines;
    bad = parsed.bad.size ? parsed.bad : undefined;
    if (bad) {
      source = text;
      sourceByte = message.type === "chunk" ? message.offset : cut?.start;
    }
    newlines = parsed.newlines;
    if (cut && parsed.openQuote) cut.clean = false;
  }
  if (message.count || cut) {
    send({
      type: "count",
      run: message.run,
      seq: message.seq,
      records: rows.length,
      lines: message.count ? lines : undefined,
      newlines,
      // A task sent for one record alone is a suspect: its record goes along for the error.
      record: message.count && message.to === (message.from ?? 0) + 1
        ? rows[message.from ?? 0]
        : undefined,
      ...cut,
    });
  }
  if (cut && !cut.clean) {
    // The cut guessed wrong: main re-reads from this range's start itself.
    new Piece(0).send(current, message, 0, rows, lines, 0);
    return;
  }
  const { stopOnError } = current;
  const from = message.from ?? 0;
  const to = Math.min(message.to ?? rows.length, rows.length);
  let piece = new Piece(from);
  let lastFlush = performance.now();
  let lastCheck = lastFlush;
  let countdown = checkEvery;
  const parseFailure = (i: number, problem: BadRecord): void => {
    const raw = source.slice(problem.from, Math.min(problem.to, problem.from + RAW_TEXT_CHARS));
    piece.failures.push({
      kind: "parse",
      offset: i,
      line: problem.line,
      text: raw.replace(/\r?\n$/, ""),
      byte: sourceByte === undefined
        ? undefined
        : (sourceByte += encoder.encode(source.slice(countedTo, countedTo = problem.from)).length),
      error: { name: "ParseError", message: problem.reason },
    });
  };
  const recordFailure = (i: number, error: unknown): void => {
    piece.failures.push({
      kind: "record",
      offset: i,
      line: lines?.[i] ?? 0,
      record: rows[i],
      error: serializeError(error),
    });
  };
  if (plugin.classifyBatch || (current.concurrency ?? 1) > 1 || current.rate) {
    // Several records at once, batches, or a rate limit: outcomes still go out in order.
    const stop = await classifyUnits({
      plugin,
      rows,
      from,
      to,
      bad,
      concurrency: current.concurrency ?? 1,
      batchRecords: current.batchRecords ?? DEFAULT_BATCH_RECORDS,
      stopOnError,
      retry: current.retry ?? DEFAULT_RETRY,
      rate: rateGate(current),
    }, {
      emit: (outcome) => {
        if ("bad" in outcome) parseFailure(outcome.offset, bad!.get(outcome.offset)!);
        else if (!outcome.ok) recordFailure(outcome.offset, outcome.error);
        else if (outcome.value !== undefined) piece.add(outcome.value, outcome.offset);
      },
      tick: async (nextOffset) => {
        const now = performance.now();
        if (now - lastFlush > FLUSH_EVERY_MS) {
          piece.send(current, message, nextOffset, rows, lines, undefined);
          piece = new Piece(nextOffset);
          lastFlush = now;
        }
        if (now - lastYield > YIELD_EVERY_MS) await yieldToEventLoop();
        return run === current;
      },
      retried: () => piece.retried++,
    });
    if (run !== current) return;
    piece.send(current, message, stop, rows, lines, newlines);
    return;
  }
  const classify = plugin.classify!;
  let i = from;
  for (; i < to; i++) {
    const problem = bad?.get(i);
    if (problem !== undefined) {
      parseFailure(i, problem);
      if (stopOnError) break;
      continue;
    }
    const row = rows[i];
    try {
      let result: unknown;
      try {
        result = classify(row);
        if (isThenable(result)) result = await result;
      } catch (error) {
        if (!isRetryable(error)) throw error;
        // A transient failure (the plug-in says so): again, after a backoff.
        const again = await retrying(
          () => classify(row),
          error,
          current.retry ?? DEFAULT_RETRY,
          () => piece.retried++,
        );
        if (!again.ok) throw again.error;
        result = again.value;
      }
      if (result !== undefined) {
        piece.add(result, i);
        // Big results go out as they come: no piece holds more than PIECE_CHARS of text.
        if (typeof result === "string" && (piece.chars += result.length) > PIECE_CHARS) {
          piece.send(current, message, i + 1, rows, lines, undefined);
          piece = new Piece(i + 1);
          lastFlush = performance.now();
        }
      }
    } catch (error) {
      recordFailure(i, error);
      if (stopOnError) break;
    }
    if (--countdown === 0) {
      const now = performance.now();
      // Look at the clock about once a millisecond, whatever classify costs.
      const took = now - lastCheck;
      if (took > 2) checkEvery = 1;
      else if (took < 0.5 && checkEvery < 1024) checkEvery *= 2;
      countdown = checkEvery;
      lastCheck = now;
      // Slow classifiers: hand results over as they come, not only when the chunk ends.
      if (now - lastFlush > FLUSH_EVERY_MS) {
        piece.send(current, message, i + 1, rows, lines, undefined);
        piece = new Piece(i + 1);
        lastFlush = now;
      }
      // Yield now and then inside long chunks too, so cancel and terminate() act promptly.
      if (now - lastYield > YIELD_EVERY_MS) await yieldToEventLoop();
    }
    if (run !== current) return; // cancelled meanwhile
  }
  piece.send(current, message, Math.min(i + 1, to), rows, lines, newlines);
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
    ranges.close(); // out of work: no file stays open while the pool idles
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

let loaded: Plugin | undefined;

async function load(message: Extract<ToWorker, { type: "load" }>): Promise<void> {
  const result = await loadPlugin(message.module);
  if (!result.ok) {
    const { stage, error, exports } = result;
    send({ type: "load-failed", stage, error, exports });
    return;
  }
  loaded = result.plugin;
  send({ type: "loaded", exports: result.exports });
}

async function start(message: Extract<ToWorker, { type: "init" }>): Promise<void> {
  try {
    await loaded!.init?.(message.spec, message.context);
  } catch (error) {
    send({ type: "init-failed", error: serializeError(error) });
    return;
  }
  plugin = loaded;
  send({ type: "ready" });
}

/**
 * Starts the work loop on `carrier`; returns the function that takes each
 * message from the main side.
 */
export function workLoop(carrier: WorkerTransport): (message: ToWorker) => void {
  setTransport(carrier);
  return handle;
}

function handle(message: ToWorker): void {
  switch (message.type) {
    case "load":
      load(message);
      break;
    case "init":
      start(message);
      break;
    case "run":
      run = message;
      break;
    case "columns":
      if (run?.run === message.run) run.outputColumns = message.columns;
      break;
    case "cancel":
      if (run?.run === message.run) run = undefined;
      for (let k = queue.length - 1; k >= 0; k--) {
        const queued = queue[k];
        if (queued.type !== "close" && queued.run === message.run) queue.splice(k, 1);
      }
      break;
    case "chunk":
    case "range":
    case "batch":
    case "close":
      queue.push(message);
      drain();
      break;
  }
}
