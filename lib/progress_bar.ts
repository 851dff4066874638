/**
 * The crunch command's live progress line on standard error.
 *
 * @module
 */

import type { Progress } from "./options.ts";

const WIDTH = 24;

/** Formats `n` with thousands separators. */
export function thousands(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

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

/** One progress line: bar and percentage when the size is known, rate, errors, ETA. */
export function progressLine(p: Progress): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.records / seconds : 0;
  const parts = ["crunch"];
  if (p.bytesTotal) {
    const fraction = Math.min(1, p.bytesRead / p.bytesTotal);
    const filled = Math.round(fraction * WIDTH);
    parts.push(`[${"█".repeat(filled)}${"░".repeat(WIDTH - filled)}]`);
    parts.push(`${String(Math.floor(fraction * 100)).padStart(3)}%`);
    parts.push(`${megabytes(p.bytesRead)}/${megabytes(p.bytesTotal)} MB`);
  } else if (p.bytesRead) {
    parts.push(`${megabytes(p.bytesRead)} MB`);
  }
  parts.push(`${thousands(p.records)} records`);
  parts.push(`${thousands(rate)} rec/s`);
  parts.push(`${thousands(p.errors)} errors`);
  if (p.respawns) parts.push(`${thousands(p.respawns)} respawns`);
  if (p.bytesTotal && p.bytesRead > 0) {
    const eta = seconds * (p.bytesTotal / p.bytesRead - 1);
    parts.push(`ETA ${clock(eta)}`);
  }
  return parts.join("  ");
}

/** Redraws one line on a terminal, at most ten times a second. */
export class ProgressBar {
  #out: { writeSync(bytes: Uint8Array): number };
  #last = 0;
  #shown = false;
  #encoder = new TextEncoder();

  /** Draws on `out` (standard error by default). */
  constructor(out: { writeSync(bytes: Uint8Array): number } = Deno.stderr) {
    this.#out = out;
  }

  /** Shows `progress`, unless the line was drawn less than 100 ms ago. */
  update(progress: Progress): void {
    const now = performance.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    this.#shown = true;
    this.#write(`\r\x1b[2K${progressLine(progress)}`);
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
