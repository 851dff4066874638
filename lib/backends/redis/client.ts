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
import { RedisConnectionError, RedisReplyError } from "./errors.ts";
import { ReplyParser } from "./reply_parser.ts";
import { Routes } from "./cluster.ts";
import { parseRedisUrl, type RedisAddress } from "../../checks.ts";

export { parseRedisUrl, type RedisAddress };

/** A reply: simple strings as strings, bulk strings as bytes, integers, nil, arrays. */
export type Reply = string | number | null | Uint8Array | Reply[];

/** An argument of a command. */
export type Arg = string | number | Uint8Array;

export { RedisConnectionError, RedisReplyError };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF = encoder.encode("\r\n");

/** The text of a reply that is a string (simple or bulk), else `undefined`. */
export function text(reply: Reply): string | undefined {
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return decoder.decode(reply);
  return undefined;
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
  /** On a cluster, the other nodes (undefined on a connection to another node). */
  readonly #routes: Routes<RedisClient> | undefined;

  /** `url`: the URL connected to, for the connections to other nodes of a cluster (if routed). */
  private constructor(conn: Deno.Conn, address: RedisAddress, url: string | undefined) {
    this.#conn = conn;
    this.#address = address;
    this.#routes = url === undefined
      ? undefined
      : new Routes((node) => RedisClient.#open(url, node, false));
    this.#read();
  }

  /**
   * Connects to `url` (`redis://[user[:password]@]host[:port][/db]`, or
   * `rediss://` for TLS: Deno's trust store, or `DENO_CERT` for a private
   * CA), logs in and selects the database.
   */
  static connect(url: string): Promise<RedisClient> {
    return RedisClient.#open(url, undefined, true);
  }

  /**
   * Connects to `url`, or to `node` (`host:port`) of its cluster with its
   * credentials; `routes`: follow a cluster's redirects to other nodes.
   */
  static async #open(
    url: string,
    node: string | undefined,
    routes: boolean,
  ): Promise<RedisClient> {
    const given = url;
    if (node !== undefined) {
      const at = new URL(url);
      const colon = node.lastIndexOf(":");
      at.hostname = node.slice(0, colon);
      at.port = node.slice(colon + 1);
      url = at.href;
    }
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
    const client = new RedisClient(conn, address, routes ? given : undefined);
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

  /**
   * Sends a command; resolves with its reply, rejects with a RedisReplyError
   * or RedisConnectionError. On a Redis Cluster it goes to the node that
   * serves its key, as the cluster's `MOVED` and `ASK` replies say.
   */
  command(...args: Arg[]): Promise<Reply> {
    return this.#routed(args, 0);
  }

  /** `args` sent where they belong, following at most a few redirects. */
  #routed(args: Arg[], hops: number): Promise<Reply> {
    const routes = this.#routes;
    const node = routes?.nodeFor(args);
    const sent = node === undefined
      ? this.#here(args)
      : routes!.node(node).then((other) => other.#here(args));
    if (routes === undefined || hops >= 5) return sent;
    return sent.catch(async (error) => {
      const to = error instanceof RedisReplyError ? routes.learn(error) : undefined;
      if (to === undefined) throw error;
      if (!to.ask) return this.#routed(args, hops + 1);
      const other = await routes.node(to.node);
      other.#send(["ASKING"]).catch(() => {}); // the next command only, on that connection
      return other.#here(args);
    });
  }

  /** Sends `args` on this connection. */
  #here(args: Arg[]): Promise<Reply> {
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
    this.#routes?.close();
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
