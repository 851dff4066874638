/**
 * What every bench case gets: the settings of the run, where the data lives,
 * the peers found on this machine, and the rows of the report.
 *
 * @module
 */

import type { Spread } from "./stats.ts";

/** One line of the bench's report. */
export interface Row {
  case: string;
  variant: string;
  /** Records per second over the repetitions. */
  rate?: Spread;
  /** Input megabytes per second over the repetitions. */
  mbPerSecond?: Spread;
  /** A ratio of two things measured in the same rounds, round by round. */
  ratio?: Spread;
  /** What the ratio is of. */
  ratioOf?: string;
  /** A single measured value (memory, start-up time). */
  value?: number;
  unit?: string;
  /** What a row shows that its numbers alone do not (a wrong result, a skipped peer). */
  note?: string;
}

/** The peers' runtimes, where this machine has them. */
export interface Peers {
  /** Node with Piscina and d3-dsv installed in this folder. */
  piscina?: string;
  /** The python3 command. */
  python?: string;
}

/** The settings and services every case uses. */
export interface Context {
  /** Timed repetitions per measurement. */
  reps: number;
  quick: boolean;
  /** The bench's data folder (.cache/bench/). */
  cache: string;
  cores: number;
  peers: Peers;
  rows: Row[];
  log(line: string): void;
}

/** A module of the bench, relative to bench/. */
export function here(path: string): URL {
  return new URL(path, import.meta.url);
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Megabytes in the file at `path`. */
export async function sizeMb(path: string): Promise<number> {
  return (await Deno.stat(path)).size / 1e6;
}
