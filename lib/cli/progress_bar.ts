/**
 * The crunch command's live progress line on standard error.
 *
 * @module
 */

import type { Progress } from "../options.ts";
import { count, thousands } from "../numbers.ts";

const WIDTH = 24;

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x: number) => String(x).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/**
 * One progress line: bar and percentage when the size is known, rate,
 * errors, and the ETA when one is given (seconds, from {@linkcode Eta});
 * no wider than `width` columns. As the width shrinks, fields
 * go in this order: the "crunch" label, megabytes, respawns, rate, the bar
 * (after shrinking it to 10 cells), errors (when there are none), records;
 * the percentage (or records, for a stream) and the ETA stay longest.
 */
export function progressLine(p: Progress, width = Infinity, eta?: number): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.records / seconds : 0;
  // [text, priority]: the lowest priority goes first when the line is too wide.
  const parts: [string, number][] = [["crunch", 1]];
  let bar = -1;
  let fraction = 0;
  if (p.bytesTotal) {
    fraction = Math.min(1, p.bytesRead / p.bytesTotal);
    bar = parts.push(["", 5]) - 1;
    parts.push([`${String(Math.floor(fraction * 100)).padStart(3)}%`, 10]);
    parts.push([`${megabytes(p.bytesRead)}/${megabytes(p.bytesTotal)} MB`, 2]);
  } else if (p.bytesRead) {
    parts.push([`${megabytes(p.bytesRead)} MB`, 2]);
  }
  parts.push([count(p.records, "record"), p.bytesTotal ? 7 : 10]);
  parts.push([`${thousands(rate)} rec/s`, 4]);
  parts.push([count(p.errors, "error"), p.errors ? 8 : 6]);
  if (p.respawns) parts.push([count(p.respawns, "respawn"), 3]);
  if (eta !== undefined) parts.push([`ETA ${clock(eta)}`, 9]);
  const drawBar = (cells: number) => {
    const filled = Math.round(fraction * cells);
    return `[${"█".repeat(filled)}${"░".repeat(cells - filled)}]`;
  };
  if (bar >= 0) parts[bar][0] = drawBar(WIDTH);
  const length = () => parts.reduce((sum, [text]) => sum + text.length, 0) + 2 * (parts.length - 1);
  while (parts.length > 1 && length() > width) {
    let lowest = 0;
    for (let k = 1; k < parts.length; k++) if (parts[k][1] < parts[lowest][1]) lowest = k;
    if (lowest === bar && parts[bar][0].length > 12) {
      parts[bar][0] = drawBar(Math.max(10, parts[bar][0].length - 2 - (length() - width)));
      continue;
    }
    if (lowest === bar) bar = -1;
    else if (lowest < bar) bar--;
    parts.splice(lowest, 1);
  }
  return parts.map(([text]) => text).join("  ").trimStart();
}

/**
 * The time a run has left, from its own pace: the bytes it has done since
 * its first record finished, over the time since. Start-up (workers
 * starting, init building its structure) does not count as pace, nor do the
 * records of the runs a resumed run goes on from; nothing is said for the
 * first second, when a rate means little.
 */
export class Eta {
  #from: { ms: number; bytes: number } | undefined;

  /** Seconds left at `p` (this run's own progress), or undefined when it cannot yet tell. */
  seconds(p: Progress): number | undefined {
    if (!p.bytesTotal) return undefined;
    if (this.#from === undefined) {
      if (p.records + p.errors > 0) this.#from = { ms: p.elapsedMs, bytes: p.bytesRead };
      return undefined;
    }
    const ms = p.elapsedMs - this.#from.ms;
    const bytes = p.bytesRead - this.#from.bytes;
    if (ms < 1000 || bytes <= 0) return undefined;
    return Math.max(0, p.bytesTotal - p.bytesRead) / bytes * ms / 1000;
  }
}

/** The width of the terminal, or no limit when there is none (standard error is a file). */
function terminalWidth(): number {
  try {
    return Deno.stderr.isTerminal() ? Deno.consoleSize().columns : Infinity;
  } catch {
    return 80;
  }
}

/** Redraws one line on a terminal, at most ten times a second. */
export class ProgressBar {
  #out: { writeSync(bytes: Uint8Array): number };
  #last = 0;
  #shown = false;
  #encoder = new TextEncoder();

  #width: () => number;

  /**
   * Draws on `out` (standard error by default), no wider than `width()`
   * columns less one (by default the terminal's), so the line never wraps.
   */
  constructor(
    out: { writeSync(bytes: Uint8Array): number } = Deno.stderr,
    width: () => number = terminalWidth,
  ) {
    this.#out = out;
    this.#width = width;
  }

  /**
   * Shows `progress` with `eta` seconds left (when known), unless the line
   * was drawn less than 100 ms ago.
   */
  update(progress: Progress, eta?: number): void {
    const now = performance.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    this.#shown = true;
    this.#write(`\r\x1b[2K${progressLine(progress, this.#width() - 1, eta)}`);
  }

  /** Erases the line, so what follows starts clean. */
  clear(): void {
    if (this.#shown) this.#write("\r\x1b[2K");
    this.#shown = false;
  }

  #write(text: string): void {
    try {
      this.#out.writeSync(this.#encoder.encode(text));
    } catch {
      // standard error closed: progress is optional
    }
  }
}
