/**
 * The library's option keys of each scope, made from the option table, and
 * a compile-time check that the table declares every option of the
 * library's types.
 *
 * @module
 */

import type { PoolOptions, RunOptions } from "../options.ts";
import { OPTIONS, type OptionSpec } from "./table.ts";

/** An option of the library's types that the table does not declare (a compile error names it). */
type Declared = Extract<(typeof OPTIONS)[number], { key: string }>["key"];
type Undeclared = Exclude<keyof PoolOptions | keyof RunOptions, Declared>;
const _everyOptionDeclared: [Undeclared] extends [never] ? true : Undeclared = true;

/** The keys of the options of `scope`. */
export const keysOf = (scope: "pool" | "run"): string[] =>
  (OPTIONS as readonly OptionSpec[]).filter((o) => o.scope === scope && o.key).map((o) => o.key!);
