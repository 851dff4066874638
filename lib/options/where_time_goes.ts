/**
 * The command's options that say where a run's time goes, or will go: the
 * run report, and the forecast of a run from a sample. A part of the option
 * table (`table.ts`), in its order.
 *
 * @module
 */

import type { OptionSpec } from "./spec.ts";

/** The options of the report and the forecast, in the order the command's help lists them. */
export const WHERE_TIME_GOES = [
  {
    scope: "command",
    flag: {
      name: "report",
      arg: "<file>",
      help: "write where the run's time went to <file> (JSON: stages, slowest, bottleneck)",
    },
  },
  {
    scope: "command",
    flag: {
      name: "dry-run",
      help: "classify a sample from many points of the input and forecast the run (records, " +
        "time, output size, errors, memory); nothing is written",
    },
  },
  {
    scope: "command",
    flag: {
      name: "sample",
      arg: "<n>",
      help: "records in the --dry-run sample (default 2000)",
    },
  },
] as const satisfies readonly OptionSpec[];
