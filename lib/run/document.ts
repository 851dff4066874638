/**
 * The output document of a run whose results are encoded in the workers
 * (the `encode` option): the CSV header, the JSON array's brackets and
 * separators, and the index and line of tagged results, around the bytes the
 * workers serialized.
 *
 * @module
 */

import { CrunchError } from "../errors.ts";
import type { Encoded } from "../wire/task.ts";
import type { OutputFormat } from "../formats/format.ts";
import { csvCell } from "../formats/encode.ts";
import type { Base } from "./ledger.ts";

/** Where a piece of encoded results sits: its offsets and lines within its task. */
export interface EncodedPiece {
  encoded: Encoded;
  offsets?: number[];
  lines?: number[];
}

/** Where a document stands: something written (JSON's bracket), and its CSV columns. */
export interface DocumentState {
  started: boolean;
  columns?: string[];
}

/** The document so far, and what goes around each piece of it. */
export class OutputDocument {
  readonly #format: OutputFormat;
  readonly #tagged: boolean;
  /** Told once, when the first result fixes the CSV columns. */
  #onColumns: (columns: string[]) => void = () => {};
  #started = false;
  #columns: string[] | undefined;
  #encoder = new TextEncoder();
  /** The file the results now written come from, for tagged results of many files. */
  file: string | undefined;
  /** Whether tagged results carry their file (many files). */
  readonly #withFile: boolean;

  constructor(format: OutputFormat, tagged: boolean, withFile = false) {
    this.#format = format;
    this.#tagged = tagged;
    this.#withFile = withFile;
  }

  /** Calls `onColumns` when the first result fixes the CSV columns (the run that writes now). */
  listen(onColumns: (columns: string[]) => void): void {
    this.#onColumns = onColumns;
  }

  /** The CSV columns, once the first result fixed them. */
  get columns(): string[] | undefined {
    return this.#columns;
  }

  /** What a resumed run needs to go on with the same document. */
  state(): DocumentState {
    return { started: this.#started, columns: this.#columns };
  }

  /** Goes on from `state`: the header or the opening bracket are written already. */
  restore(state: DocumentState): void {
    this.#started = state.started;
    this.#columns = state.columns;
  }

  /**
   * The bytes of a piece of results at `base`, with the header or separators
   * they need; a CrunchError when its CSV columns differ from the first
   * result's.
   */
  write(piece: EncodedPiece, base: Base): Uint8Array[] | CrunchError {
    const { encoded } = piece;
    if (encoded.count === 0) return [];
    const format = this.#format;
    const pieces: Uint8Array[] = [];
    const text = (s: string) => pieces.push(this.#encoder.encode(s));
    if (format === "csv") {
      const columns = encoded.columns!;
      if (this.#columns === undefined) {
        this.#columns = columns;
        this.#onColumns(columns);
        const tags = this.#withFile ? ["file", "index", "line"] : ["index", "line"];
        const header = this.#tagged ? [...tags, ...columns] : columns;
        text(header.map(csvCell).join(",") + "\n");
      } else if (columns.join("\0") !== this.#columns.join("\0")) {
        const at = base.index + (piece.offsets?.[0] ?? 0);
        return new CrunchError(
          `CSV output: results near record ${at} have the keys ${columns.join(", ")}, ` +
            `but the first result fixed the columns as ${this.#columns.join(", ")}`,
        );
      }
    }
    if (format === "json") text(this.#started ? ",\n" : "[\n");
    this.#started = true;
    if (encoded.bytes) pieces.push(encoded.bytes);
    if (encoded.texts) {
      const { offsets = [], lines } = piece;
      const lineOf = (k: number) => lines ? base.line + lines[k] - 1 : undefined;
      const file = this.#withFile ? this.file ?? "" : undefined;
      const csvFile = file === undefined ? "" : `${csvCell(file)},`;
      const jsonFile = file === undefined ? "" : `"file":${JSON.stringify(file)},`;
      const rows = encoded.texts.map((t, k) => {
        const index = base.index + offsets[k];
        if (format === "csv") return `${csvFile}${index},${lineOf(k) ?? ""},${t}`;
        const line = lines ? `,"line":${lineOf(k)}` : "";
        return `{${jsonFile}"index":${index}${line},"result":${t}}`;
      });
      text(format === "json" ? rows.join(",\n") : rows.join("\n") + "\n");
    }
    return pieces;
  }

  /** The end of the document (JSON's closing bracket). */
  trailer(): Uint8Array[] {
    if (this.#format !== "json") return [];
    return [this.#encoder.encode(this.#started ? "\n]\n" : "[]\n")];
  }
}
