/**
 * Bytes a task's text decoder could not read: a file in Latin-1 or
 * Windows-1252 read as UTF-8 (what spreadsheets export) becomes U+FFFD
 * replacement characters, which would otherwise pass in silence. Counted
 * where the text is decoded, so the run can warn with the count and the
 * first line.
 *
 * @module
 */

import type { InvalidText } from "../../lib/wire/task.ts";

const REPLACEMENT = "\uFFFD";

/**
 * The replacement characters in `text` that stand for undecodable bytes of
 * `bytes` (its source) rather than for a U+FFFD written in a UTF-8 file, and
 * the 1-based line of the first; undefined when there are none. Costs one
 * search of the text when there is nothing to find.
 *
 * @example
 * ```ts
 * import { invalidText } from "./invalid_text.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array([0x61, 0x0a, 0x63, 0x61, 0x66, 0xe9, 0x0a]); // "a\ncaf\xe9\n"
 * const text = new TextDecoder().decode(bytes);
 * assert.deepEqual(invalidText(text, bytes, "utf-8"), { count: 1, line: 2 });
 * assert.equal(invalidText("plain", new Uint8Array(5), "utf-8"), undefined);
 * ```
 */
export function invalidText(
  text: string,
  bytes: Uint8Array,
  encoding: string,
): InvalidText | undefined {
  const first = text.indexOf(REPLACEMENT);
  if (first === -1) return undefined;
  let count = 0;
  for (let at = first; at !== -1; at = text.indexOf(REPLACEMENT, at + 1)) count++;
  // A U+FFFD written in a UTF-8 file is EF BF BD: those are text, not undecodable bytes.
  if (encoding === "utf-8") {
    for (
      let at = bytes.indexOf(0xef);
      at !== -1 && at + 2 < bytes.length;
      at = bytes.indexOf(0xef, at + 1)
    ) {
      if (bytes[at + 1] === 0xbf && bytes[at + 2] === 0xbd) count--;
    }
    if (count <= 0) return undefined;
  }
  let line = 1;
  for (let at = text.indexOf("\n"); at !== -1 && at < first; at = text.indexOf("\n", at + 1)) {
    line++;
  }
  return { count, line };
}
