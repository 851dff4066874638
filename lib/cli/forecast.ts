/**
 * `--dry-run`: a forecast of a run from a sample. Records are sampled from
 * many points of the input (windows spread over each file, and over the
 * files of a many-files input, each read from a verified record start); a
 * compressed file, or a server that ignores `Range`, from its head. They are
 * classified on the run's own workers, and what was found (format,
 * dialect, compression, records per MB) is printed with a forecast: total
 * records, time with these workers, output size, error rate with the first
 * errors, memory. Nothing is written.
 *
 * @module
 */

import { expandFiles } from "../files.ts";
import { sniff, SNIFF_BYTES } from "../input/compression.ts";
import type { SampleDialect } from "../input/sample.ts";
import { sampleWindows } from "../input/sample.ts";
import { formatFromName, planInput } from "../input/source.ts";
import { PositionalFile } from "../input/byte_source.ts";
import type { SourceHead } from "../input/task.ts";
import type { ChunkBody } from "../wire/task.ts";
import { resolveRunOptions, RUN_KEYS } from "../options.ts";
import { RemoteClient } from "../remote/client.ts";
import { isRemote, remoteObject } from "../remote/location.ts";
import type { Command } from "./args.ts";
import { classifySample, printForecast, type Sampled } from "./forecast_report.ts";
import { cutterFor } from "../formats/cutter.ts";

/** Records sampled by default. */
export const DEFAULT_SAMPLE = 2000;
/** Bytes read at each sampling point. */
const WINDOW_BYTES = 64 << 10;
/** Records taken from one sampling point, at most. */
const PER_POINT = 100;

/** Runs the forecast `command` asks for; resolves with the exit code. */
export async function forecast(command: Command): Promise<number> {
  const names = command.files ? await expandFiles(command.files) : [command.input!];
  const wanted = command.sample ?? DEFAULT_SAMPLE;
  const points = Math.max(1, Math.ceil(wanted / PER_POINT));
  const opened = [];
  for (const name of names) opened.push(await openHead(name, command));
  const total = opened.reduce((n, o) => n + (o.size ?? 0), 0);
  const sampled: Sampled[] = [];
  for (const input of opened) {
    const share = Math.max(1, Math.round(points * (input.size ?? 0) / Math.max(1, total)));
    sampled.push(await sampleOf(input, share, Math.ceil(wanted / points)));
  }
  const outcome = await classifySample(command, sampled);
  printForecast(command, sampled, outcome);
  return 0;
}

/** An input opened the run's own way: its head, and how to read it at an offset if it can be. */
interface Opened {
  name: string;
  head: SourceHead;
  size?: number;
  compression?: string;
  /** Reads at an offset: a plain regular file, or an object whose server serves ranges. */
  readAt?: (at: number, into: Uint8Array) => Promise<number>;
  /** The records of the input's head, as the run's main thread cuts them. */
  first: () => Promise<{ text: string; bytes: number }>;
  /** Releases the input. */
  close: () => void;
}

async function openHead(name: string, command: Command): Promise<Opened> {
  const given = command.options as unknown as Record<string, unknown>;
  const run = Object.fromEntries(
    RUN_KEYS.filter((k) => given[k] !== undefined).map((k) => [k, given[k]]),
  );
  const options = resolveRunOptions({
    ...run,
    format: command.options.format ?? formatFromName(name),
    chunkBytes: 256 << 10,
    reader: "main",
  });
  const plan = planInput(name, options);
  const { head, source } = await plan.open();
  const first = async () => {
    const task = await source.next();
    const body = task?.body as ChunkBody | undefined;
    if (body === undefined) return { text: "", bytes: source.bytesRead };
    const bytes = new Uint8Array(body.buffer, body.start, body.end - body.start);
    return { text: new TextDecoder(head.encoding).decode(bytes), bytes: source.bytesRead };
  };
  const spare = isRemote(name) ? undefined : await spareFile(name);
  const readAt = spare
    ? (at: number, into: Uint8Array) => spare.fill(at, into)
    : await rangeReader(name, command);
  const peek = new Uint8Array(SNIFF_BYTES);
  const compression = readAt ? sniff(peek.subarray(0, await readAt(0, peek))) : undefined;
  return {
    name,
    head,
    size: head.size ?? source.bytesTotal,
    compression,
    readAt: compression ? undefined : readAt,
    first,
    close: () => {
      plan.close();
      spare?.close();
    },
  };
}

/** A handle on `name` read at positions, when it is a regular file (one handle for every read). */
async function spareFile(name: string): Promise<PositionalFile | undefined> {
  const info = await Deno.stat(name);
  return info.isFile ? new PositionalFile(await Deno.open(name)) : undefined;
}

/** A reader at offsets of the object `name`, when its server serves byte ranges. */
async function rangeReader(
  name: string,
  command: Command,
): Promise<((at: number, into: Uint8Array) => Promise<number>) | undefined> {
  const client = new RemoteClient({
    headers: command.options.headers as [string, string][] | undefined,
    timeoutMs: command.options.httpTimeout,
  });
  const object = remoteObject(name);
  const probe = await client.open(object, 0, 0);
  probe.done();
  await probe.response.body?.cancel();
  if (probe.response.status !== 206) return undefined;
  return (at, into) => client.readAt(object, at, into);
}

/** Up to `perPoint` records at each of `points` points of `input`. */
async function sampleOf(input: Opened, points: number, perPoint: number): Promise<Sampled> {
  const { head } = input;
  const dialect: SampleDialect = {
    format: head.format as SampleDialect["format"],
    delimiter: head.delimiter,
    columns: head.columns,
    encoding: head.encoding,
  };
  const started = performance.now();
  if (input.readAt === undefined || input.size === undefined) {
    // Compressed, or a stream: its head, as the run's main thread would read it.
    const { text, bytes } = await input.first().finally(input.close);
    const encoded = new TextEncoder().encode(text);
    const windows = await sampleWindows(
      (at, into) => Promise.resolve(copyAt(encoded, at, into)),
      encoded.length,
      0,
      dialect,
      1,
      Infinity,
    );
    return {
      input: input.name,
      head,
      compression: input.compression,
      windows,
      perPoint: points * perPoint,
      coveredBytes: bytes,
      size: input.size,
      tried: 1,
      headOnly: true,
      parseMs: performance.now() - started,
    };
  }
  let windows;
  try {
    const dataStart = await dataStartOf(input.readAt, dialect, head);
    windows = await sampleWindows(
      input.readAt,
      input.size,
      dataStart,
      dialect,
      points,
      WINDOW_BYTES,
      // Counting quotes before each point reads the whole file: cheap for a file, not for a URL.
      !isRemote(input.name),
    );
  } finally {
    input.close();
  }
  return {
    input: input.name,
    head,
    windows,
    perPoint,
    size: input.size,
    tried: points,
    headOnly: false,
    parseMs: performance.now() - started,
  };
}

function copyAt(bytes: Uint8Array, at: number, into: Uint8Array): number {
  const piece = bytes.subarray(at, at + into.length);
  into.set(piece);
  return piece.length;
}

/** Where the records start: after the header row (its end found from byte 0, quotes and all). */
async function dataStartOf(
  readAt: (at: number, into: Uint8Array) => Promise<number>,
  dialect: SampleDialect,
  head: SourceHead,
): Promise<number> {
  if (dialect.format === "ndjson" || head.columns === undefined || head.firstLine === 1) return 0;
  const bytes = new Uint8Array(WINDOW_BYTES);
  const got = await readAt(0, bytes);
  const lf = cutterFor(dialect.format, dialect.delimiter).first(bytes, 0, got);
  return lf === -1 ? got : lf + 1;
}
