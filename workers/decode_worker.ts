/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * A Web Worker that decompresses a gzip or zstd byte stream, so that the
 * main thread only reads compressed bytes and cuts the decoded ones into
 * chunks. Speaks {@linkcode DecodeRequest} and {@linkcode DecodeReply}.
 *
 * gzip: node:zlib's gunzip reads every member of a multi-member file (pigz,
 * BGZF, concatenated .gz files). zstd: node:zlib's decoder stops after the
 * first frame without a word, so the frames are followed here
 * ({@linkcode ZstdFrames}) and each gets a decoder of its own; a stream that
 * ends inside a frame is reported as truncated (the decoder itself says
 * nothing).
 *
 * @module
 */

import zlib from "node:zlib";
import { ZstdFrames } from "../lib/input/compression.ts";
import type { DecodeReply, DecodeRequest } from "../lib/input/decode_protocol.ts";

/** Decoded bytes go out in pieces of about this size. */
const OUT_BYTES = 1 << 20;

let kind: "gzip" | "zstd" = "gzip";
let frames: ZstdFrames | undefined;
let decoder: zlib.Gunzip | zlib.ZstdDecompress | undefined;
let ended: Promise<void> | undefined;
let failure: Error | undefined;
let out: Uint8Array[] = [];
let outBytes = 0;
let chain: Promise<void> = Promise.resolve();

function post(reply: DecodeReply, transfer: Transferable[] = []): void {
  self.postMessage(reply, transfer);
}

function flush(): void {
  if (outBytes === 0) return;
  const bytes = new Uint8Array(outBytes);
  let at = 0;
  for (const piece of out) {
    bytes.set(piece, at);
    at += piece.length;
  }
  out = [];
  outBytes = 0;
  post({ type: "out", bytes }, [bytes.buffer]);
}

function open(): zlib.Gunzip | zlib.ZstdDecompress {
  if (decoder) return decoder;
  const d = kind === "gzip" ? zlib.createGunzip() : zlib.createZstdDecompress();
  d.on("data", (piece: Uint8Array) => {
    out.push(piece);
    if ((outBytes += piece.length) >= OUT_BYTES) flush();
  });
  ended = new Promise<void>((resolve) => {
    d.on("end", resolve);
    d.on("error", (error: Error) => {
      failure ??= error;
      resolve();
    });
  });
  return decoder = d;
}

/** Writes `bytes` to the decoder and waits until it has taken them. */
function feed(bytes: Uint8Array): Promise<void> {
  if (bytes.length === 0) return Promise.resolve();
  const d = open();
  return new Promise<void>((resolve) => {
    const more = d.write(bytes, () => resolve());
    if (!more) d.once("drain", () => {});
  });
}

/** Ends the current decoder and waits for its last bytes. */
async function finish(): Promise<void> {
  if (!decoder) return;
  decoder.end();
  await ended;
  decoder = undefined;
  ended = undefined;
}

function check(): void {
  if (failure) throw failure;
}

async function handle(request: DecodeRequest): Promise<void> {
  switch (request.type) {
    case "start":
      kind = request.kind;
      frames = kind === "zstd" ? new ZstdFrames() : undefined;
      break;
    case "data":
      if (frames) {
        for (const part of frames.split(request.bytes)) {
          if (!part.skip) await feed(part.bytes);
          check();
          if (part.ends) await finish();
          check();
        }
      } else await feed(request.bytes);
      check();
      flush();
      post({ type: "taken", bytes: request.bytes.length });
      break;
    case "end":
      if (frames && !frames.atBoundary) {
        throw new Error(`the zstd data ends inside a frame, at byte ${frames.offset}: truncated?`);
      }
      await finish();
      check();
      flush();
      post({ type: "done" });
      break;
  }
}

self.onmessage = (event: MessageEvent<DecodeRequest>) => {
  chain = chain.then(() => handle(event.data)).catch((error: Error) => {
    post({ type: "error", message: error.message });
    self.close();
  });
};
