/**
 * A run over many files: one {@linkcode Engine} per file, one after another,
 * on the same workers (started once, so `init` runs once), with one output
 * document, one progress over the bytes of every file, and results and
 * errors that name their file.
 *
 * @module
 */

import type { Backend } from "../backends/backend.ts";
import { ParseError } from "../errors.ts";
import { expandFiles, type Files } from "../files.ts";
import { formatFromName, unknownFormat } from "../input/source.ts";
import { fileHead } from "../input/file_head.ts";
import { DecoderPool } from "../input/decoders.ts";
import type { SourceHead } from "../input/task.ts";
import { isRemote } from "../remote/location.ts";
import type { Progress, ResolvedRunOptions, Tagged } from "../options.ts";
import { OutputDocument } from "./document.ts";
import { Engine, type Lease, type Pump } from "./engine.ts";
import { emptyProgress } from "./stats.ts";
import { mergeReports } from "./report_builder.ts";
import type { RunReport } from "../report.ts";

/** The smallest chunk a small file is cut into. */
const MIN_CHUNK = 32 << 10;

/** Files whose heads are read at once when a run starts. */
const HEADS_AT_ONCE = 8;

/** Progress counters that add up over files. */
const SUMMED = [
  "records",
  "results",
  "errors",
  "bytesRead",
  "retries",
  "respawns",
  "isolated",
  "recycled",
  "reruns",
] as const;

/** The engine of a run over {@linkcode Files}. */
export class FilesEngine implements Pump {
  readonly #files: Files;
  readonly #options: ResolvedRunOptions;
  readonly #lease: Lease;
  readonly #started = performance.now();
  #paths: string[] | undefined;
  #sizes: number[] | undefined;
  #at = -1;
  #current: Engine | undefined;
  #backend: Promise<Backend> | undefined;
  #document: OutputDocument | undefined;
  #columns: string[] | undefined;
  /** Progress of the files before the current one. */
  #done: Progress = emptyProgress();
  #last: Progress | undefined;
  #bytesTotal: number | undefined;
  #stopped = false;
  /** The workers given back (once): later callers wait for the same. */
  #gaveBack: Promise<string[] | void> | undefined;
  #starting = new AbortController();
  /** Decoding workers kept from one compressed file to the next. */
  readonly #decoders = new DecoderPool();

  /** Where the time of each file's run went, once it ended. */
  readonly #reports: RunReport[] = [];

  /** `lease` gives the workers for every file and takes them back after the last. */
  constructor(files: Files, options: ResolvedRunOptions, lease: Lease) {
    this.#files = files;
    this.#options = options;
    this.#lease = lease;
  }

  /** Where the runs' time went, every file's together. */
  report(): RunReport | undefined {
    const current = this.#current?.report();
    const reports = current ? [...this.#reports, current] : this.#reports;
    if (reports.length === 0) return undefined;
    return mergeReports(reports, performance.now() - this.#started, this.#lease.workers);
  }

  takeReady(batch: boolean): { value: unknown } | undefined {
    const ready = this.#current?.takeReady(batch);
    if (ready) this.#tag(ready.value, batch);
    return ready;
  }

  async next(batch: boolean): Promise<IteratorResult<unknown>> {
    try {
      if (this.#paths === undefined) await this.#open();
      for (;;) {
        if (this.#stopped) return { done: true, value: undefined };
        if (this.#current === undefined) {
          if (this.#at + 1 >= this.#paths!.length || this.#left() === 0) {
            return await this.#finish();
          }
          this.#begin(++this.#at);
        }
        const step = await this.#current!.next(batch);
        if (!step.done) {
          this.#tag(step.value, batch);
          return step;
        }
        this.#fold();
        const report = this.#current!.report();
        if (report) this.#reports.push(report);
        this.#current = undefined;
      }
    } catch (error) {
      await this.#giveBack("abort");
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#starting.abort(new Error("the run was stopped"));
    await this.#current?.stop();
    await this.#giveBack("abort");
  }

  /** Expands the patterns and sums the sizes, before anything starts. */
  async #open(): Promise<void> {
    this.#options.signal?.throwIfAborted();
    const paths = await expandFiles(this.#files.patterns);
    if (this.#options.format === undefined) {
      for (const path of paths) {
        if (formatFromName(path) === undefined) {
          throw new TypeError(unknownFormat(path, "pass the format option"));
        }
      }
    }
    const heads = await this.#checkHeads(paths);
    this.#sizes = [];
    for (const [k, path] of paths.entries()) {
      // An object behind a URL: the size its first response gave.
      this.#sizes.push(isRemote(path) ? heads[k]?.size ?? 0 : (await Deno.stat(path)).size);
    }
    this.#bytesTotal = this.#sizes.reduce((a, b) => a + b, 0);
    this.#paths = paths;
    if (this.#options.encode) {
      this.#document = new OutputDocument(this.#options.encode, this.#options.tagged, true);
    }
  }

  /**
   * Opens every file and reads its head before the first record is
   * classified: a file that cannot be read, or whose header differs from the
   * first file's, stops the run now, not after the files before it were
   * classified and their output thrown away. A few files at a time.
   */
  async #checkHeads(paths: string[]): Promise<(SourceHead | undefined)[]> {
    const heads: (SourceHead | undefined)[] = new Array(paths.length);
    let next = 0;
    const open = async () => {
      for (let k = next++; k < paths.length; k = next++) {
        this.#options.signal?.throwIfAborted();
        const format = this.#options.format ?? formatFromName(paths[k])!;
        heads[k] = await fileHead(paths[k], format, this.#options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(HEADS_AT_ONCE, paths.length) }, open));
    paths.forEach((path, k) => this.#checkHeader(path, heads[k]));
    return heads;
  }

  /** Records the limit leaves for the files to come (undefined: no limit). */
  #left(): number | undefined {
    const { limit } = this.#options;
    return limit === undefined ? undefined : Math.max(0, limit - this.#done.records);
  }

  /** Starts the engine of file `k`, on the workers of the whole run. */
  #begin(k: number): void {
    const path = this.#paths![k];
    if (this.#document) this.#document.file = path;
    // A small file still makes a task for every worker (two each): files run one after another,
    // so a file of one chunk would leave all workers but one idle.
    const share = Math.ceil(this.#sizes![k] / (this.#lease.workers * 2));
    const options: ResolvedRunOptions = {
      ...this.#options,
      chunkBytes: Math.min(this.#options.chunkBytes, Math.max(MIN_CHUNK, share)),
      limit: this.#left(),
      decoders: this.#decoders,
      // A limit counts the records of the files before too (their final progress).
      onProgress: this.#options.onProgress || this.#options.limit !== undefined
        ? (p) => this.#progress(p)
        : undefined,
    };
    const lease: Lease = {
      workers: this.#lease.workers,
      acquire: (_signal, _tasks, head) => {
        this.#checkHeader(path, head);
        // The workers start once, for every file: as many as all the files' bytes can use.
        this.#backend ??= this.#lease.acquire(
          this.#starting.signal,
          Math.max(1, Math.ceil(this.#bytesTotal! / this.#options.chunkBytes)),
        );
        return this.#backend;
      },
      release: () => Promise.resolve(), // kept for the next file
    };
    this.#current = new Engine(path, options, lease, {
      document: this.#document,
      last: k === this.#paths!.length - 1,
    });
  }

  /** A file whose header differs from the first file's is an error, unless allowed. */
  #checkHeader(path: string, head: SourceHead | undefined): void {
    const columns = head?.columns;
    if (columns === undefined) return;
    if (this.#columns === undefined) {
      this.#columns = columns;
      return;
    }
    if (this.#options.mixedHeaders) return;
    if (columns.join("\0") !== this.#columns.join("\0")) {
      throw new ParseError(
        `its header (${columns.join(", ")}) differs from the first file's (${
          this.#columns.join(", ")
        }): pass mixedHeaders: true (--mixed-headers) to read files with different columns`,
        { file: path, line: 1 },
      );
    }
  }

  /** Tagged results say which file they came from. */
  #tag(value: unknown, batch: boolean): void {
    if (!this.#options.tagged || this.#options.encode) return;
    const file = this.#paths![this.#at];
    if (batch) { for (const tagged of value as Tagged[]) tagged.file = file; }
    else (value as Tagged).file = file;
  }

  #progress(p: Progress): void {
    this.#last = p;
    const sum = { ...p, bytesTotal: this.#bytesTotal };
    for (const key of SUMMED) sum[key] = this.#done[key] + p[key];
    sum.elapsedMs = performance.now() - this.#started;
    const warnings = [...(this.#done.warnings ?? []), ...(p.warnings ?? [])];
    if (warnings.length) sum.warnings = warnings;
    this.#options.onProgress?.(sum);
  }

  /** Adds the finished file's final progress to the files before it. */
  #fold(): void {
    const last = this.#last;
    if (!last) return;
    for (const key of SUMMED) this.#done[key] += last[key];
    if (last.warnings?.length) {
      this.#done.warnings = [...(this.#done.warnings ?? []), ...last.warnings];
    }
    this.#last = undefined;
  }

  async #finish(): Promise<IteratorResult<unknown>> {
    const warnings = await this.#giveBack("done");
    if (this.#options.onProgress) {
      const final: Progress = {
        ...this.#done,
        bytesTotal: this.#bytesTotal,
        elapsedMs: performance.now() - this.#started,
      };
      if (warnings?.length) final.warnings = [...(final.warnings ?? []), ...warnings];
      this.#options.onProgress(final);
    }
    return { done: true, value: undefined };
  }

  /** Gives the workers back, once, whether they were ever started or not (a Pool is freed). */
  #giveBack(how: "done" | "abort"): Promise<string[] | void> {
    return this.#gaveBack ??= this.#giveBackNow(how);
  }

  async #giveBackNow(how: "done" | "abort"): Promise<string[] | void> {
    this.#stopped = true;
    this.#decoders.close();
    const backend = await this.#backend?.catch(() => undefined);
    this.#backend = undefined;
    return await this.#lease.release(backend, how);
  }
}
