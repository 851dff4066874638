/**
 * NDJSON (JSON Lines) parsing of one chunk: one JSON value per line, blank
 * lines skipped.
 *
 * @module
 */

import { ParsedChunk } from "./parsed_chunk.ts";

/** Parses every line of `text`; lines that are not JSON become bad records. */
export function parseNdjson(text: string): ParsedChunk {
  const out = new ParsedChunk();
  const n = text.length;
  let pos = 0;
  let line = 1;
  while (pos < n) {
    let nl = text.indexOf("\n", pos);
    if (nl === -1) nl = n;
    else out.newlines++;
    const source = text.slice(pos, nl);
    try {
      out.push(JSON.parse(source), line);
    } catch (error) {
      if (source.trim() !== "") {
        out.fail(line, `not valid JSON: ${(error as Error).message}`, pos, nl);
      }
    }
    pos = nl + 1;
    line++;
  }
  return out;
}
