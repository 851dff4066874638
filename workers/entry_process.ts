/**
 * The crunch worker as a process of its own: the work loop (`loop.ts`)
 * carried by frames on standard input and output (`lib/frames.ts`). Started
 * by the main side with `deno run`; it ends when its standard input closes.
 *
 * Standard output carries the frames, so the plug-in's console output goes
 * to standard error. `Deno.exit()` and `close()` announce themselves first,
 * and an error escaping a timer or a stray promise is reported whole before
 * the process ends.
 *
 * @module
 */

import { encodeFrame, FrameReader } from "../lib/wire/frames.ts";
import type { FromWorker, ToWorker } from "../lib/wire/protocol.ts";
import { WorkLoop } from "./loop.ts";

const realExit = Deno.exit;
const stdout = Deno.stdout;

function writeAll(bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) at += stdout.writeSync(bytes.subarray(at));
}

function send(message: FromWorker): void {
  for (const part of encodeFrame(message)) writeAll(part);
}

// Standard output is the channel: the plug-in's console goes to standard error.
for (const name of ["log", "info", "debug"] as const) console[name] = console.error;

const loop = new WorkLoop({ send, exit: () => realExit(1) });

Object.defineProperty(Deno, "exit", {
  value: (code?: number): never => {
    send({ type: "exit", via: "Deno.exit", code });
    return realExit(code);
  },
});
globalThis.close = () => {
  send({ type: "exit", via: "self.close" });
  realExit(0);
};
globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  loop.fatal(event.error ?? new Error(event.message));
});
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  loop.fatal(event.reason);
});

const frames = new FrameReader();
for await (const bytes of Deno.stdin.readable) {
  for (const message of frames.push(bytes)) loop.handle(message as ToWorker);
}
realExit(0);
