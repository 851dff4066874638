/**
 * Inputs in a text encoding whose bytes cannot be cut as they are: records
 * are cut at LF bytes outside quotes, so a LF or quote byte must never be
 * part of a character. In UTF-16 every ASCII character has a NUL byte
 * beside it; in ISO-2022-JP a quote byte may be half of a character. The
 * main thread decodes such an input and hands on its UTF-8 (read as a
 * stream: no byte ranges, no resuming). A UTF-16 file with a byte order mark
 * (Excel's "Unicode text") is read so without being told. Every other
 * encoding the workers decode themselves, from the bytes cut as usual: the
 * second bytes of Shift_JIS, Big5, GBK and gb18030 start at 0x40 and those
 * of EUC at 0xA1, above LF and the quote (a delimiter among them is found
 * in the decoded text).
 *
 * @module
 */

import { type ByteSource, StreamSource } from "./byte_source.ts";
import { Prefixed } from "./decoded_source.ts";

/** Encodings whose bytes are never cut as they are. */
const NEVER_CUT = new Set(["utf-16le", "utf-16be", "iso-2022-jp"]);

/**
 * Whether the main thread decodes an input in `encoding` (a TextDecoder's
 * name for it), rather than the workers.
 *
 * @example
 * ```ts
 * import { transcodes } from "./transcoded.ts";
 * import assert from "node:assert/strict";
 * assert.equal(transcodes("utf-16le"), true);
 * assert.equal(transcodes("windows-1252"), false);
 * assert.equal(transcodes("shift_jis"), false); // second bytes from 0x40: never a LF or a quote
 * ```
 */
export function transcodes(encoding: string): boolean {
  return NEVER_CUT.has(encoding);
}

/**
 * `source`, and the encoding its bytes are in for the workers: decoded to
 * UTF-8 here when {@linkcode transcodes} says so or it starts with a UTF-16
 * byte order mark (then undefined: UTF-8), else as it is. `rewind` puts a
 * file's position back after its first bytes were looked at.
 */
export async function transcodedIfNeeded(
  source: ByteSource,
  encoding: string | undefined,
  rewind?: (bytes: number) => Promise<void>,
): Promise<{ source: ByteSource; encoding?: string }> {
  const head = new Uint8Array(2);
  let got = 0;
  while (got < head.length) {
    const n = await source.read(head.subarray(got));
    if (n === null) break;
    got += n;
  }
  const bom = got === 2 && head[0] === 0xff && head[1] === 0xfe
    ? "utf-16le"
    : got === 2 && head[0] === 0xfe && head[1] === 0xff
    ? "utf-16be"
    : undefined;
  const label = bom ?? encoding;
  let rest: ByteSource = source;
  if (got > 0) {
    if (rewind) await rewind(got);
    else rest = new Prefixed(head.slice(0, got), source);
  }
  if (label === undefined || !transcodes(label)) {
    return { source: rest, encoding: label === "utf-8" ? undefined : label };
  }
  return { source: new StreamSource(utf8Of(rest, label)) };
}

/** The bytes of `source`, in `encoding`, as UTF-8. */
function utf8Of(source: ByteSource, encoding: string): ReadableStream<Uint8Array> {
  const bytes = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(1 << 16);
      const n = await source.read(buffer);
      if (n === null) controller.close();
      else controller.enqueue(buffer.subarray(0, n));
    },
    cancel() {
      source.close();
    },
  }, { highWaterMark: 0 });
  return bytes.pipeThrough(new TextDecoderStream(encoding)).pipeThrough(new TextEncoderStream());
}
