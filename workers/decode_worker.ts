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

/** One compressed stream being decoded: its kind, its decoder, and what it has put out. */
class Decoding {
  #kind: "gzip" | "zstd" = "gzip";
  #frames: ZstdFrames | undefined;
  #decoder: zlib.Gunzip | zlib.ZstdDecompress | undefined;
  #ended: Promise<void> | undefined;
  #failure: Error | undefined;
  #out: Uint8Array[] = [];
  #outBytes = 0;

  #flush(): void {
    if (this.#outBytes === 0) return;
    const bytes = new Uint8Array(this.#outBytes);
    let at = 0;
    for (const piece of this.#out) {
      bytes.set(piece, at);
      at += piece.length;
    }
    this.#out = [];
    this.#outBytes = 0;
    post({ type: "out", bytes }, [bytes.buffer]);
  }

  #open(): zlib.Gunzip | zlib.ZstdDecompress {
    if (this.#decoder) return this.#decoder;
    const d = this.#kind === "gzip" ? zlib.createGunzip() : zlib.createZstdDecompress();
    d.on("data", (piece: Uint8Array) => {
      this.#out.push(piece);
      if ((this.#outBytes += piece.length) >= OUT_BYTES) this.#flush();
    });
    this.#ended = new Promise<void>((resolve) => {
      d.on("end", resolve);
      d.on("error", (error: Error) => {
        this.#failure ??= error;
        resolve();
      });
    });
    return this.#decoder = d;
  }

  /** Writes `bytes` to the decoder and waits until it has taken them. */
  #feed(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return Promise.resolve();
    const d = this.#open();
    return new Promise<void>((resolve) => {
      const more = d.write(bytes, () => resolve());
      if (!more) d.once("drain", () => {});
    });
  }

  /** Ends the current decoder and waits for its last bytes. */
  async #finish(): Promise<void> {
    if (!this.#decoder) return;
    this.#decoder.end();
    await this.#ended;
    this.#decoder = undefined;
    this.#ended = undefined;
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }

  /** Handles one request of the main thread. */
  async handle(request: DecodeRequest): Promise<void> {
    switch (request.type) {
      case "start":
        this.#kind = request.kind;
        this.#frames = this.#kind === "zstd" ? new ZstdFrames() : undefined;
        break;
      case "data":
        if (this.#frames) {
          for (const part of this.#frames.split(request.bytes)) {
            if (!part.skip) await this.#feed(part.bytes);
            this.#check();
            if (part.ends) await this.#finish();
            this.#check();
          }
        } else await this.#feed(request.bytes);
        this.#check();
        this.#flush();
        post({ type: "taken", bytes: request.bytes.length });
        break;
      case "end":
        if (this.#frames && !this.#frames.atBoundary) {
          throw new Error(
            `the zstd data ends inside a frame, at byte ${this.#frames.offset}: truncated?`,
          );
        }
        await this.#finish();
        this.#check();
        this.#flush();
        post({ type: "done" });
        break;
    }
  }
}

function post(reply: DecodeReply, transfer: Transferable[] = []): void {
  self.postMessage(reply, transfer);
}

const decoding = new Decoding();
/** Requests are handled one after another, in order. */
const chain = { last: Promise.resolve() };

self.onmessage = (event: MessageEvent<DecodeRequest>) => {
  chain.last = chain.last.then(() => decoding.handle(event.data)).catch((error: Error) => {
    post({ type: "error", message: error.message });
    self.close();
  });
};
