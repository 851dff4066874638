/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The crunch worker as a Web Worker: the work loop (`loop.ts`) carried by
 * `postMessage`.
 *
 * Deno sends the main thread no event when a worker calls `Deno.exit()` or
 * `self.close()`, so both announce themselves first; an error escaping a
 * timer or a stray promise is reported whole instead of killing the worker
 * with a bare message.
 *
 * @module
 */

import { format } from "node:util";
import type { ConsoleLine, FromWorker, ToWorker } from "../lib/wire/protocol.ts";
import { WorkLoop } from "./loop.ts";

// The command's standard output holds results: there the plug-in's console goes to standard
// error, through the main thread, which clears the progress line before writing it.
if (new URL(import.meta.url).searchParams.get("console") === "stderr") {
  for (const name of ["log", "info", "debug", "warn", "error"] as const) {
    console[name] = (...args: unknown[]) => {
      const line: ConsoleLine = { type: "console", text: format(...args) + "\n" };
      self.postMessage(line);
    };
  }
}

const realClose = self.close.bind(self);
const realExit = Deno.exit;

const loop = new WorkLoop({
  send: (message: FromWorker, transfer: Transferable[] = []) => self.postMessage(message, transfer),
  exit: realClose,
});

Object.defineProperty(Deno, "exit", {
  value: (code?: number): never => {
    self.postMessage({ type: "exit", via: "Deno.exit", code });
    return realExit(code);
  },
});
self.close = () => {
  self.postMessage({ type: "exit", via: "self.close" });
  realClose();
};
self.addEventListener("error", (event) => {
  event.preventDefault();
  loop.fatal(event.error ?? new Error(event.message));
});
self.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  loop.fatal(event.reason);
});
self.onmessage = (event: MessageEvent<ToWorker>) => loop.handle(event.data);
