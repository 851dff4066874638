/**
 * Checks of what a user passes in: option keys (with the nearest valid key
 * suggested), a value's description for messages, and Redis URLs. What a
 * spec may hold is checked in `spec_check.ts`.
 *
 * @module
 */

/** Edit distance between two short strings (case-insensitive). */
export function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost);
    }
    previous = row;
  }
  return previous[b.length];
}

/** The candidate nearest to `word`, when it is near enough to be a likely typo. */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** A value as a message shows it: its kind, and the value where short. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "string":
      return `a string (${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "..." : value)})`;
    case "number":
    case "bigint":
    case "boolean":
      return `${typeof value} ${String(value)}`;
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  if (Array.isArray(value)) return "an array";
  const name = Object.getPrototypeOf(value)?.constructor?.name;
  return name && name !== "Object" ? `a ${name}` : "an object";
}

/**
 * Throws a TypeError naming the first key of `options` that is not in
 * `known`, with the nearest known key as a suggestion. `elsewhere` maps keys
 * that belong to another call to a hint saying where they go.
 */
export function checkKeys(
  what: string,
  options: object,
  known: readonly string[],
  elsewhere: Record<string, string> = {},
): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what} must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    if (key in elsewhere) throw new TypeError(`${what}: ${key} ${elsewhere[key]}`);
    const guess = nearest(key, [...known, ...Object.keys(elsewhere)]);
    throw new TypeError(
      `${what}: unknown option ${key}` + (guess ? ` (did you mean ${guess}?)` : "") +
        `; the options are ${known.join(", ")}`,
    );
  }
}

/** `text` without terminal colour codes (Deno colours some error messages). */
export function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** Where a `redis://` or `rediss://` URL points, and how to log in. */
export interface RedisAddress {
  hostname: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
  db?: number;
  /** The URL without its password, for messages. */
  display: string;
}

/** Reads `redis://[user[:password]@]host[:port][/db]` (or `rediss://` for TLS). */
export function parseRedisUrl(url: string): RedisAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`redis: ${JSON.stringify(url)} is not a URL (redis://host:6379)`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `redis: ${JSON.stringify(url)} is not a redis:// or rediss:// URL`,
    );
  }
  const db = parsed.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d+$/.test(db)) {
    throw new TypeError(`redis: the database in ${parsed.origin}/${db} is not a number`);
  }
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  const shown = new URL(parsed.href);
  if (shown.password) shown.password = "***";
  return {
    hostname: parsed.hostname.replace(/^\[|\]$/g, "") || "localhost",
    port: parsed.port ? Number(parsed.port) : 6379,
    tls: parsed.protocol === "rediss:",
    username: password === undefined ? undefined : username,
    // `redis://secret@host` names a password alone, as redis-cli reads it.
    password: password ?? username,
    db: db === "" ? undefined : Number(db),
    display: shown.href,
  };
}
