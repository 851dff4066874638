/**
 * Standard error, shared by a live line (the command's progress bar) and
 * everything else written there: a plug-in's console in a thread or a
 * worker process, crunch's own messages. A live line registers itself;
 * whatever else is written clears it first, so no output lands on the end
 * of a half-drawn bar and no stale bar is left in the scrollback. The bar
 * draws itself again at its next update.
 *
 * @module
 */

/** A line that is redrawn in place. */
export interface LiveLine {
  /** Erases the line; the cursor is left at its start. */
  clear(): void;
}

let live: LiveLine | undefined;
const encoder = new TextEncoder();

/**
 * Makes `line` the live line until the returned function is called.
 *
 * @example
 * ```ts
 * import { holdLine, writeStderr } from "./stderr.ts";
 * import assert from "node:assert/strict";
 * let cleared = 0;
 * const release = holdLine({ clear: () => cleared++ });
 * writeStderr(""); // anything written clears the line first
 * release();
 * writeStderr("");
 * assert.equal(cleared, 1);
 * ```
 */
export function holdLine(line: LiveLine): () => void {
  live = line;
  return () => {
    if (live === line) live = undefined;
  };
}

/** Writes `text` to standard error, the live line cleared first; a closed standard error is ignored. */
export function writeStderr(text: string | Uint8Array): void {
  live?.clear();
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  try {
    for (let at = 0; at < bytes.length;) at += Deno.stderr.writeSync(bytes.subarray(at));
  } catch {
    // standard error closed: nothing to tell
  }
}
