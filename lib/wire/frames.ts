/**
 * Protocol messages as length-prefixed frames on a byte stream, for worker
 * processes that talk over their standard input and output. Both sides
 * import this module.
 *
 * A frame is `[u32 frame length][u32 header length][header][payload]`,
 * little-endian. The header is the message in V8's structured-clone format
 * (`node:v8` serialize, so results keep the types a `postMessage` keeps);
 * the bytes of a chunk, or of results encoded in the worker, travel as the
 * raw payload instead, without being serialized.
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import type { FromWorker, ToWorker } from "./protocol.ts";
import { packShared, unpackShared } from "./shared_copy.ts";

type Message = ToWorker | FromWorker;

/** The type of a frame whose message carried SharedArrayBuffers, copied beside it. */
const SHARED = "$shared";

/** A `DataCloneError` like the one `postMessage` throws, for what V8's serializer refuses. */
export function dataCloneError(message: string): DOMException {
  return new DOMException(message, "DataCloneError");
}

/**
 * The frame of `message`, in pieces to write in order. Throws a
 * `DataCloneError` when it cannot be serialized.
 */
export function encodeFrame(message: Message): Uint8Array[] {
  let payload: Uint8Array | undefined;
  let header: Message = message;
  if (message.type === "task" && message.task.body.kind === "chunk") {
    const body = message.task.body;
    payload = new Uint8Array(body.buffer, body.start, body.end - body.start);
    const bare = { ...body, buffer: new ArrayBuffer(0), start: 0, end: payload.length };
    header = { ...message, task: { ...message.task, body: bare } };
  } else if (message.type === "piece" && message.piece.encoded?.bytes) {
    payload = message.piece.encoded.bytes;
    const encoded = { ...message.piece.encoded, bytes: undefined };
    header = { ...message, piece: { ...message.piece, encoded } };
  }
  let head: Uint8Array;
  try {
    head = serialize(header);
  } catch (error) {
    // SharedArrayBuffers (what prepare() shares) travel as copies; anything else is refused.
    const packed = packShared(header);
    if (packed === undefined) throw dataCloneError((error as Error).message);
    try {
      head = serialize({ type: SHARED, ...packed });
    } catch (again) {
      throw dataCloneError((again as Error).message);
    }
  }
  const prefix = new Uint8Array(8);
  const view = new DataView(prefix.buffer);
  const length = 4 + head.length + (payload?.length ?? 0);
  view.setUint32(0, length, true);
  view.setUint32(4, head.length, true);
  return payload?.length ? [prefix, head, payload] : [prefix, head];
}

/** The message of a frame's body (everything after its length). */
function decodeBody(body: Uint8Array): Message {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const headLength = view.getUint32(0, true);
  let message = deserialize(body.subarray(4, 4 + headLength)) as Message;
  const packed = message as unknown as { type: string; value: unknown; buffers: Uint8Array[] };
  if (packed.type === SHARED) message = unpackShared(packed.value, packed.buffers) as Message;
  const payload = body.slice(4 + headLength);
  if (message.type === "task" && message.task.body.kind === "chunk") {
    const chunk = message.task.body;
    chunk.buffer = payload.buffer as ArrayBuffer;
    chunk.start = 0;
    chunk.end = payload.length;
  } else if (message.type === "piece" && message.piece.encoded) {
    if (payload.length) message.piece.encoded.bytes = payload;
  }
  return message;
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Messages as consecutive frames in one byte array (a Redis entry's value). */
export function encodeFrames(messages: Message[]): Uint8Array {
  return concat(messages.flatMap((message) => encodeFrame(message)));
}

/** The messages of {@linkcode encodeFrames}'s bytes. */
export function decodeFrames(bytes: Uint8Array): Message[] {
  const messages: Message[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 4 <= bytes.length;) {
    const length = view.getUint32(at, true);
    messages.push(decodeBody(bytes.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return messages;
}

/** Cuts a byte stream into messages. */
export class FrameReader {
  #buffer = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;

  /** Adds bytes read from the stream; returns the messages they complete. */
  push(bytes: Uint8Array): Message[] {
    this.#append(bytes);
    const messages: Message[] = [];
    for (;;) {
      const available = this.#end - this.#start;
      if (available < 4) break;
      const view = new DataView(this.#buffer.buffer, this.#start, 4);
      const length = view.getUint32(0, true);
      if (available < 4 + length) break;
      const body = this.#buffer.subarray(this.#start + 4, this.#start + 4 + length);
      messages.push(decodeBody(body));
      this.#start += 4 + length;
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return messages;
  }

  /** Bytes of an unfinished frame at the end of the stream. */
  get pending(): number {
    return this.#end - this.#start;
  }

  #append(bytes: Uint8Array): void {
    if (this.#end + bytes.length > this.#buffer.length) {
      const kept = this.#end - this.#start;
      const size = Math.max(this.#buffer.length, (kept + bytes.length) * 2);
      if (size > this.#buffer.length) {
        const next = new Uint8Array(size);
        next.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = next;
      } else {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = kept;
    }
    this.#buffer.set(bytes, this.#end);
    this.#end += bytes.length;
  }
}
