/**
 * A run whose workers write its results as part files (`outputDir`), one a
 * task, so the results never cross to this thread. Each part is written by
 * its worker under a hidden temporary name (`.crunch-<run>-t<task>-...`);
 * this side renames it into place (`part-000000.ndjson`, ...) when the
 * task's outcome is recorded, in input order with `ordered`. A task run
 * twice (after a crash, or raced by a copy) leaves one part: only the
 * outcome the run keeps is renamed, and every other temporary file of the
 * run is removed when it ends. A run that completes writes `_SUCCESS`, a
 * manifest of the parts; one that fails leaves the parts it committed and
 * no manifest.
 *
 * @module
 */

import { resolve } from "node:path";
import type { OutputFormat } from "../formats/format.ts";
import type { RunReport } from "../report.ts";
import type { PartSettings, WrittenPart } from "../wire/task.ts";
import type { Pump } from "./engine.ts";
import type { Checkpoint } from "./release.ts";
import { type PartStore, partStore } from "./part_store.ts";

export { MANIFEST } from "./part_store.ts";

/** A part the run committed: what the run yields for each, and what the manifest lists. */
export interface OutputPart {
  /** Its file name in the folder (`part-000000.ndjson`). */
  name: string;
  /** Its path. */
  path: string;
  /** Results it holds. */
  results: number;
  /** Its size in bytes. */
  bytes: number;
}

/**
 * Where a resumable run keeps what it committed (the command's `--resume`):
 * the parts of the runs before, and each batch of parts as it is committed
 * (already durable), with the point in the input the run reached after it.
 */
export interface PartsLog {
  /** Parts the runs before committed: this run's are numbered after them. */
  committed: OutputPart[];
  /** Records parts just committed and made durable, and the point reached after them. */
  record(parts: OutputPart[], point: Checkpoint | undefined): Promise<void>;
  /** The run completed: its manifest is written. */
  complete(): Promise<void>;
}

/** Where the parts go and how, for a run over `format` into `dir`. */
export function partSettings(
  dir: string,
  format: OutputFormat,
  compression: "gzip" | "zstd" | undefined,
  codec: PartSettings["codec"],
  schema?: PartSettings["schema"],
): PartSettings {
  if (format === "parquet" && compression !== undefined) {
    throw new TypeError(
      "option partCompression compresses NDJSON, CSV and JSON parts; a Parquet part " +
        "compresses its pages (parquetCompression)",
    );
  }
  const prefix = `.crunch-${crypto.randomUUID().slice(0, 8)}-`;
  const place = /^s3:\/\//i.test(dir) ? dir.replace(/\/+$/, "") : resolve(dir);
  return { dir: place, format, compression, codec, schema, prefix };
}

/** Commits the parts the run underneath writes. */
export class PartsPump implements Pump {
  readonly #inner: Pump;
  readonly #settings: PartSettings;
  readonly #log: PartsLog | undefined;
  readonly #store: PartStore;
  readonly #parts: OutputPart[];
  readonly #ready: OutputPart[] = [];
  /** Parts being made durable (fsync, off this thread), awaited before the manifest. */
  readonly #syncing: Promise<void>[] = [];
  #syncFailed: unknown;
  #prepared = false;
  #done = false;

  /**
   * The parts of `inner`, a run whose workers write parts as `settings` say;
   * `log` keeps them for a run that can be resumed.
   */
  constructor(inner: Pump, settings: PartSettings, log?: PartsLog) {
    this.#inner = inner;
    this.#settings = settings;
    this.#log = log;
    this.#store = partStore(settings.dir);
    this.#parts = [...log?.committed ?? []];
  }

  takeReady(batch: boolean): { value: unknown } | undefined {
    if (batch) return this.#ready.length ? { value: this.#ready.splice(0) } : undefined;
    const part = this.#ready.shift();
    return part && { value: part };
  }

  async next(batch: boolean): Promise<IteratorResult<unknown>> {
    try {
      if (!this.#prepared) await this.#prepare();
      for (;;) {
        const ready = this.takeReady(batch);
        if (ready) return { done: false, value: ready.value };
        if (this.#done) return { done: true, value: undefined };
        const got = await this.#inner.next(true);
        if (got.done) {
          await this.#finish();
          continue;
        }
        const committed: OutputPart[] = [];
        for (const part of got.value as WrittenPart[]) committed.push(await this.#commit(part));
        if (this.#log && committed.length) {
          await this.#durable();
          await this.#log.record(committed, this.#inner.checkpoint?.(0));
        }
      }
    } catch (error) {
      await this.#sweep();
      throw error;
    }
  }

  /** Makes the place ready; one that holds another run's parts is refused, never mixed with. */
  async #prepare(): Promise<void> {
    await this.#store.prepare(new Set(this.#parts.map((p) => p.name)));
    this.#prepared = true;
  }

  /** Renames a task's part into place, the next in the run's order. */
  async #commit(part: WrittenPart): Promise<OutputPart> {
    const { format, compression } = this.#settings;
    const ext = format + (compression === "gzip" ? ".gz" : compression === "zstd" ? ".zst" : "");
    const name = `part-${String(this.#parts.length).padStart(6, "0")}.${ext}`;
    const path = await this.#store.commit(part.temp, name);
    // Kept with its error (if any), thrown before the manifest: never an unhandled rejection.
    this.#syncing.push(
      this.#store.durable(path).catch((error) => {
        this.#syncFailed ??= error;
      }),
    );
    const committed = { name, path, results: part.results, bytes: part.bytes };
    this.#parts.push(committed);
    this.#ready.push(committed);
    return committed;
  }

  /** Waits for every part committed so far to be durable; throws if one could not be. */
  async #durable(): Promise<void> {
    await Promise.all(this.#syncing);
    if (this.#syncFailed !== undefined) throw this.#syncFailed;
  }

  /** The run completed: the manifest, written whole, and nothing temporary left. */
  async #finish(): Promise<void> {
    this.#done = true;
    await this.#sweep();
    await this.#durable();
    const { format, compression } = this.#settings;
    const report = this.#inner.report();
    const manifest = {
      format,
      compression: compression ?? null,
      parts: this.#parts.map(({ name, results, bytes }) => ({ name, results, bytes })),
      results: this.#parts.reduce((n, p) => n + p.results, 0),
      records: report?.records ?? null,
      errors: report?.errors ?? null,
    };
    await this.#store.manifest(JSON.stringify(manifest, null, 2) + "\n", this.#settings.prefix);
    await this.#log?.complete();
  }

  /** Removes the run's temporary files: parts of tasks run twice, or of workers that died. */
  #sweep(): Promise<void> {
    return this.#store.sweep(this.#settings.prefix);
  }

  async stop(): Promise<void> {
    await this.#inner.stop();
    await this.#sweep();
  }

  report(): RunReport | undefined {
    return this.#inner.report();
  }
}
