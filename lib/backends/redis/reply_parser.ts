/**
 * RESP2 replies parsed out of the bytes a connection reads: simple strings,
 * errors, integers, bulk strings (as bytes) and arrays, one complete reply
 * at a time.
 *
 * @module
 */

import type { Reply } from "./client.ts";
import { RedisConnectionError, RedisReplyError } from "./errors.ts";

const decoder = new TextDecoder();

/** `reply` with each bulk string copied out of the parser's buffer (views until then). */
function owned(reply: Reply | RedisReplyError): Reply | RedisReplyError {
  if (reply instanceof Uint8Array) return reply.slice();
  if (Array.isArray(reply)) {
    for (let i = 0; i < reply.length; i++) reply[i] = owned(reply[i]) as Reply;
  }
  return reply;
}

/**
 * Parses replies out of a growing buffer. An unfinished reply is parsed
 * again from its start when the bytes it lacked have come (a reply is never
 * parsed again before then), with bulk strings taken as views: each is
 * copied once, when the reply is complete. (Copying them at every attempt
 * made a reply of many large entries quadratic: 172 MB/s for 64 entries of
 * 512 KiB.)
 */
export class ReplyParser {
  #buffer = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;
  /** Bytes needed before a parse can succeed (known after a failed attempt). */
  #need = 0;

  /** Adds bytes read from the connection. */
  push(bytes: Uint8Array): void {
    if (this.#end + bytes.length > this.#buffer.length) {
      const live = this.#end - this.#start;
      let size = this.#buffer.length;
      while (size < live + bytes.length) size *= 2;
      const next = size === this.#buffer.length ? this.#buffer : new Uint8Array(size);
      next.set(this.#buffer.subarray(this.#start, this.#end), 0);
      this.#buffer = next;
      this.#end = live;
      this.#start = 0;
    }
    this.#buffer.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  /** The next complete reply (an error reply as a RedisReplyError), or `undefined`. */
  next(): Reply | RedisReplyError | undefined {
    if (this.#end - this.#start < this.#need) return undefined;
    const at = { pos: this.#start };
    const view = this.#parse(at);
    if (view === undefined) return undefined;
    const reply = owned(view);
    this.#start = at.pos;
    this.#need = 0;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return reply;
  }

  /** The line at `at.pos` (without CRLF), or undefined when incomplete. */
  #line(at: { pos: number }): string | undefined {
    const buffer = this.#buffer;
    for (let i = at.pos; i + 1 < this.#end; i++) {
      if (buffer[i] === 13 && buffer[i + 1] === 10) {
        const line = decoder.decode(buffer.subarray(at.pos, i));
        at.pos = i + 2;
        return line;
      }
    }
    this.#need = this.#end - this.#start + 1;
    return undefined;
  }

  #parse(at: { pos: number }): Reply | RedisReplyError | undefined {
    if (at.pos >= this.#end) {
      this.#need = this.#end - this.#start + 1;
      return undefined;
    }
    const kind = this.#buffer[at.pos++];
    const line = this.#line(at);
    if (line === undefined) return undefined;
    switch (kind) {
      case 43: // +
        return line;
      case 45: // -
        return new RedisReplyError(line);
      case 58: // :
        return Number(line);
      case 36: { // $
        const length = Number(line);
        if (length < 0) return null;
        if (at.pos + length + 2 > this.#end) {
          this.#need = at.pos + length + 2 - this.#start;
          return undefined;
        }
        const value = this.#buffer.subarray(at.pos, at.pos + length);
        at.pos += length + 2;
        return value;
      }
      case 42: { // *
        const count = Number(line);
        if (count < 0) return null;
        const items: Reply[] = [];
        for (let i = 0; i < count; i++) {
          const item = this.#parse(at);
          if (item === undefined) return undefined;
          // An error inside an array (EXEC, a script's table) stays a value.
          items.push(item instanceof RedisReplyError ? item.message : item);
        }
        return items;
      }
      default:
        throw new RedisConnectionError(`redis: unexpected reply byte ${kind}`);
    }
  }
}
