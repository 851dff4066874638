/**
 * What declaring an option takes: its key, whose it is, its kind, its
 * default and its command-line flag.
 *
 * @module
 */

import type { PoolOptions, RunOptions } from "../options.ts";
import type { Kind } from "./kinds.ts";

/** A command-line flag. */
export interface Flag {
  /** The long name, without `--`. */
  name: string;
  short?: string;
  /** What its value is called in the help (`<n>`); none for a switch. */
  arg?: string;
  /** The help line (wrapped to the terminal's 100 columns). */
  help: string;
  /** Given more than once, it collects every value. */
  multiple?: true;
  /** A switch that sets its option to false (`--no-header`). */
  negates?: true;
}

/** One option. */
export interface OptionSpec {
  /** The library's key; none for an option of the command alone. */
  key?: keyof PoolOptions | keyof RunOptions;
  /** Whose option it is. */
  scope: "pool" | "run" | "command";
  /** How a value is checked and a flag's text read; none where the caller checks it. */
  kind?: Kind<unknown>;
  /** The value when the option is not given (library runs; the command's own in the flag's help). */
  default?: unknown;
  /** The command's flag, if it has one. */
  flag?: Flag;
}
