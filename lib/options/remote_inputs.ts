/**
 * The options of inputs behind URLs (http, https, s3): the headers sent to
 * private servers and how long a quiet request is waited for. A part of the
 * option table (`table.ts`), in its order.
 *
 * @module
 */

import { DEFAULT_HTTP_TIMEOUT_MS } from "../wire/task.ts";
import { headers, secondsAsMs } from "./kinds.ts";
import type { OptionSpec } from "./spec.ts";

/** The options of inputs behind URLs, in the order the command's help lists them. */
export const REMOTE_INPUTS = [
  {
    key: "headers",
    scope: "run",
    kind: headers(),
    flag: {
      name: "header",
      arg: "<h>",
      multiple: true,
      help: "an HTTP header sent with every request of an http(s) input, as 'Name: value' " +
        "(repeatable; never logged; crunch workers elsewhere take their own --header)",
    },
  },
  {
    key: "httpTimeout",
    scope: "run",
    kind: secondsAsMs(),
    default: DEFAULT_HTTP_TIMEOUT_MS,
    flag: {
      name: "http-timeout",
      arg: "<s>",
      help: "retry an http(s) or s3 request quiet for this many seconds (default 30; 0: never)",
    },
  },
] as const satisfies readonly OptionSpec[];
