/**
 * Messages between the main thread and a decoding worker
 * (`workers/decode_worker.ts`).
 *
 * ```text
 * main                         decoder
 *  | -- start {kind} ---------> |
 *  | -- data {bytes} ---------> |  compressed bytes, a few pieces in flight
 *  | <----------- out {bytes} - |  decoded bytes, about 1 MB a piece
 *  | <----------- taken ------- |  one per data: its bytes are decoded
 *  | -- end ------------------> |
 *  | <----------- done -------- |  or error, at any time
 * ```
 *
 * @module
 */

/** main → decoder. */
export type DecodeRequest =
  | { type: "start"; kind: "gzip" | "zstd" }
  | { type: "data"; bytes: Uint8Array }
  | { type: "end" };

/** decoder → main. */
export type DecodeReply =
  | { type: "out"; bytes: Uint8Array }
  | { type: "taken"; bytes: number }
  | { type: "done" }
  | { type: "error"; message: string };
