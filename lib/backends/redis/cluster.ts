/**
 * Where a command goes on a Redis Cluster: the key it names (by the
 * command's shape) and that key's hash slot (CRC16 of the key, or of its
 * hash tag `{...}`, modulo 16384), as Redis computes it. The client sends a
 * command to the node that serves its slot, learning the map from the
 * `MOVED` replies of the node it first asked.
 *
 * @module
 */

/** The number of hash slots of a Redis Cluster. */
export const SLOTS = 16384;

/** CRC16-CCITT (XMODEM), the table Redis's cluster uses. */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

const encoder = new TextEncoder();

/**
 * The hash slot of `key`: of the part between its first `{` and the next
 * `}` when that is not empty (a hash tag), else of the whole key.
 *
 * @example Keys that share a hash tag share a slot
 * ```ts
 * import assert from "node:assert/strict";
 * import { slotOf } from "./cluster.ts";
 *
 * assert.equal(slotOf("123456789"), 12739); // CRC16 XMODEM's check value 0x31C3, mod 16384
 * assert.equal(slotOf("crunch:run:{r1}"), slotOf("crunch:run:{r1}:tasks"));
 * ```
 */
export function slotOf(key: string | Uint8Array): number {
  let bytes = typeof key === "string" ? encoder.encode(key) : key;
  const open = bytes.indexOf(123); // {
  if (open !== -1) {
    const close = bytes.indexOf(125, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ TABLE[((crc >> 8) ^ byte) & 0xff]) & 0xffff;
  return crc % SLOTS;
}

/** Commands that name no key: any node answers them. */
const KEYLESS = new Set([
  "PING",
  "INFO",
  "SCRIPT",
  "AUTH",
  "SELECT",
  "ECHO",
  "CLUSTER",
  "ASKING",
  "TIME",
  "CLIENT",
  "FLUSHALL",
]);

/**
 * The key a command is routed by (its first key), or undefined for a
 * command that names none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyOf } from "./cluster.ts";
 *
 * assert.equal(keyOf(["XADD", "s", "*", "f", "v"]), "s");
 * assert.equal(keyOf(["EVAL", "return 1", 2, "a", "b"]), "a");
 * assert.equal(keyOf(["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]), "s");
 * assert.equal(keyOf(["PING"]), undefined);
 * ```
 */
export function keyOf(
  args: readonly (string | number | Uint8Array)[],
): string | Uint8Array | undefined {
  const name = String(args[0]).toUpperCase();
  if (KEYLESS.has(name)) return undefined;
  let at = 1;
  if (name === "EVAL" || name === "EVALSHA") at = Number(args[2]) > 0 ? 3 : -1;
  else if (name === "XREAD" || name === "XREADGROUP") {
    at = args.findIndex((a) => typeof a === "string" && a.toUpperCase() === "STREAMS") + 1;
    if (at === 0) at = -1;
  } else if (name === "XGROUP" || name === "XINFO") at = 2;
  const key = at > 0 ? args[at] : undefined;
  return typeof key === "number" ? String(key) : key;
}

/** Where a `MOVED` or `ASK` reply says to go. */
export interface Redirect {
  /** The node, as `host:port`. */
  node: string;
  /** `ASK`: this command only (the slot is migrating); `MOVED`: the slot's home from now on. */
  ask: boolean;
}

/**
 * The slots of a cluster whose node is known, learnt from `MOVED` replies,
 * and the connections to nodes other than the first, made on first use.
 */
export class Routes<Node extends { close(): void }> {
  readonly #slots = new Map<number, string>();
  readonly #nodes = new Map<string, Promise<Node>>();
  readonly #connect: (node: string) => Promise<Node>;

  /** Routes whose connections `connect` makes (given `host:port`). */
  constructor(connect: (node: string) => Promise<Node>) {
    this.#connect = connect;
  }

  /** The node known to serve the command's key, if one is known. */
  nodeFor(args: readonly (string | number | Uint8Array)[]): string | undefined {
    if (this.#slots.size === 0) return undefined;
    const key = keyOf(args);
    return key === undefined ? undefined : this.#slots.get(slotOf(key));
  }

  /** Where `error` (a reply) redirects to, learning a `MOVED` slot's node; else undefined. */
  learn(error: { code?: string; message: string }): Redirect | undefined {
    if (error.code !== "MOVED" && error.code !== "ASK") return undefined;
    const match = /(?:MOVED|ASK) (\d+) (\S+)/.exec(error.message);
    if (match === null) return undefined;
    const node = match[2].startsWith(":") ? `127.0.0.1${match[2]}` : match[2];
    if (error.code === "MOVED") this.#slots.set(Number(match[1]), node);
    return { node, ask: error.code === "ASK" };
  }

  /** The connection to `node`, made once. */
  node(node: string): Promise<Node> {
    let connection = this.#nodes.get(node);
    if (connection === undefined) {
      connection = this.#connect(node);
      connection.catch(() => this.#nodes.delete(node));
      this.#nodes.set(node, connection);
    }
    return connection;
  }

  /** Closes every node connection made. */
  close(): void {
    for (const connection of this.#nodes.values()) connection.then((n) => n.close(), () => {});
    this.#nodes.clear();
  }
}
