/**
 * A small Redis client over one TCP or TLS connection, speaking RESP2: the
 * commands crunch's Redis backend needs (streams, hashes, Lua scripts), with
 * binary-safe values and pipelining (commands written together in one
 * write, replies matched in order).
 *
 * Written here rather than taken from npm: crunch sends chunks of raw bytes
 * and V8-serialized frames, which must come back as bytes, and needs
 * nothing but commands, pipelining and a clear error when the connection
 * drops.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { CrunchError } from "../../errors.ts";
import { parseRedisUrl, type RedisAddress } from "../../checks.ts";

export { parseRedisUrl, type RedisAddress };

/** A reply: simple strings as strings, bulk strings as bytes, integers, nil, arrays. */
export type Reply = string | number | null | Uint8Array | Reply[];

/** An argument of a command. */
export type Arg = string | number | Uint8Array;

/** An error reply from Redis (`-ERR ...`, `-NOGROUP ...`). */
export class RedisReplyError extends CrunchError {
  /** The first word of the reply (`ERR`, `NOGROUP`, `WRONGPASS`, ...). */
  readonly code: string;
  /** `text` is the reply without its leading `-`. */
  constructor(text: string) {
    super(`redis: ${text}`);
    this.name = "RedisReplyError";
    this.code = text.split(" ", 1)[0];
  }
}

/** The connection to Redis is gone (refused, closed by the server, reset). */
export class RedisConnectionError extends CrunchError {
  /** `message` says what happened. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisConnectionError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF = encoder.encode("\r\n");

/** The text of a reply that is a string (simple or bulk), else `undefined`. */
export function text(reply: Reply): string | undefined {
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  return undefined;
}

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
class ReplyParser {
  #buffer = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;
  /** Bytes needed before a parse can succeed (known after a failed attempt). */
  #need = 0;

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

/** The bytes of a command in RESP. */
function encodeCommand(args: Arg[]): Uint8Array[] {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = arg instanceof Uint8Array ? arg : encoder.encode(String(arg));
    parts.push(encoder.encode(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return parts;
}

/** The SHA-1 of each script sent, by its text. */
const shas = new Map<string, string>();

/** The SHA-1 by which Redis knows `script`. */
function shaOf(script: string): string {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash("sha1").update(script).digest("hex");
    shas.set(script, sha);
  }
  return sha;
}

/**
 * One connection to Redis. A script (`EVAL script ...`) is sent whole the
 * first time on a connection and by its SHA-1 (`EVALSHA`) after that; when
 * Redis has lost it (`NOSCRIPT`: a `SCRIPT FLUSH`, a fail-over) it is sent
 * whole again.
 */
export class RedisClient {
  readonly #conn: Deno.Conn;
  readonly #address: RedisAddress;
  readonly #parser = new ReplyParser();
  /** Callers waiting for replies, in order; `#head` is the next one. */
  #waiting: { resolve(reply: Reply): void; reject(error: Error): void }[] = [];
  #head = 0;
  #queued: Uint8Array[] = [];
  #flushing = false;
  #broken: RedisConnectionError | undefined;
  /** Scripts sent whole on this connection, by SHA-1. */
  readonly #scripts = new Set<string>();

  private constructor(conn: Deno.Conn, address: RedisAddress) {
    this.#conn = conn;
    this.#address = address;
    this.#read();
  }

  /**
   * Connects to `url` (`redis://[user[:password]@]host[:port][/db]`, or
   * `rediss://` for TLS: Deno's trust store, or `DENO_CERT` for a private
   * CA), logs in and selects the database.
   */
  static async connect(url: string): Promise<RedisClient> {
    const address = parseRedisUrl(url);
    let conn: Deno.Conn;
    try {
      conn = address.tls
        ? await Deno.connectTls({ hostname: address.hostname, port: address.port })
        : await Deno.connect({ hostname: address.hostname, port: address.port });
    } catch (error) {
      throw new RedisConnectionError(
        `cannot connect to Redis at ${address.display}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (!address.tls) (conn as Deno.TcpConn).setNoDelay(true);
    const client = new RedisClient(conn, address);
    try {
      if (address.password !== undefined) {
        await client.command(
          ...(address.username === undefined
            ? ["AUTH", address.password]
            : ["AUTH", address.username, address.password]),
        );
      }
      if (address.db !== undefined) await client.command("SELECT", address.db);
    } catch (error) {
      client.close();
      if (error instanceof RedisReplyError) {
        throw new RedisConnectionError(
          `Redis at ${address.display} refused the login: ${error.message.replace(/^redis: /, "")}`,
          { cause: error },
        );
      }
      throw error;
    }
    return client;
  }

  /** The URL, without its password. */
  get display(): string {
    return this.#address.display;
  }

  /** False once the connection is gone. */
  get connected(): boolean {
    return this.#broken === undefined;
  }

  /** Sends a command; resolves with its reply, rejects with a RedisReplyError or RedisConnectionError. */
  command(...args: Arg[]): Promise<Reply> {
    if (args[0] === "EVAL" && typeof args[1] === "string") return this.#eval(args);
    return this.#send(args);
  }

  /** An EVAL, by SHA-1 where this connection has sent the script before. */
  async #eval(args: Arg[]): Promise<Reply> {
    const sha = shaOf(args[1] as string);
    if (!this.#scripts.has(sha)) {
      const reply = await this.#send(args);
      this.#scripts.add(sha);
      return reply;
    }
    try {
      return await this.#send(["EVALSHA", sha, ...args.slice(2)]);
    } catch (error) {
      if (!(error instanceof RedisReplyError) || error.code !== "NOSCRIPT") throw error;
      return await this.#send(args);
    }
  }

  #send(args: Arg[]): Promise<Reply> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise<Reply>((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#queued.push(...encodeCommand(args));
      if (!this.#flushing) this.#flush();
    });
  }

  /** Writes what is queued, in one write per batch of commands issued together. */
  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      // Commands issued in the same tick go out in one write.
      await Promise.resolve();
      while (this.#queued.length) {
        const bytes = Buffer.concat(this.#queued);
        this.#queued = [];
        for (let n = 0; n < bytes.length;) n += await this.#conn.write(bytes.subarray(n));
      }
    } catch (error) {
      this.#fail(`the connection to Redis at ${this.display} failed: ${(error as Error).message}`);
    } finally {
      this.#flushing = false;
    }
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(1 << 16);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#parser.push(buffer.subarray(0, n));
        for (;;) {
          const reply = this.#parser.next();
          if (reply === undefined) break;
          const waiter = this.#waiting[this.#head++];
          if (this.#head === this.#waiting.length) {
            this.#waiting = [];
            this.#head = 0;
          } else if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
            this.#waiting = this.#waiting.slice(this.#head);
            this.#head = 0;
          }
          if (!waiter) continue;
          if (reply instanceof RedisReplyError) waiter.reject(reply);
          else waiter.resolve(reply);
        }
      }
      this.#fail(`Redis at ${this.display} closed the connection`);
    } catch (error) {
      this.#fail(`the connection to Redis at ${this.display} failed: ${(error as Error).message}`);
    }
  }

  #fail(message: string): void {
    if (this.#broken) return;
    this.#broken = new RedisConnectionError(message);
    const waiting = this.#waiting.slice(this.#head);
    this.#waiting = [];
    this.#head = 0;
    for (const waiter of waiting) waiter.reject(this.#broken);
    try {
      this.#conn.close();
    } catch {
      // closed already
    }
  }

  /** Closes the connection; commands still waiting reject. */
  close(): void {
    this.#fail(`the connection to Redis at ${this.display} was closed`);
  }
}
