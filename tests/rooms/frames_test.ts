/** Frames: protocol messages as length-prefixed frames, cut back out of a stream in any pieces. */
import assert from "node:assert/strict";
import {
  concat,
  decodeFrames,
  encodeFrame,
  encodeFrames,
  FrameReader,
} from "../../lib/wire/frames.ts";
import type { FromWorker, ToWorker } from "../../lib/wire/protocol.ts";

const chunk = new TextEncoder().encode("id,text\n1,a\n");

const messages: (ToWorker | FromWorker)[] = [
  { type: "load", module: "file:///m.ts" },
  {
    type: "task",
    run: 3,
    task: {
      id: 7,
      body: { kind: "chunk", buffer: chunk.slice().buffer, start: 0, end: chunk.length },
    },
  },
  {
    type: "piece",
    run: 3,
    piece: {
      id: 7,
      last: true,
      results: [{ when: new Date(0), n: 1n }],
      failures: [],
      records: 1,
      newlines: 1,
      encoded: { count: 1, bytes: new TextEncoder().encode("x\n") },
    },
  },
];

Deno.test("frames: every message survives, chunk bytes and encoded results as raw payloads", () => {
  const bytes = concat(messages.flatMap((m) => encodeFrame(m)));
  const back = decodeFrames(bytes);
  assert.equal(back.length, 3);
  const task = back[1] as Extract<ToWorker, { type: "task" }>;
  const body = task.task.body as { buffer: ArrayBuffer; start: number; end: number };
  assert.deepEqual(new Uint8Array(body.buffer, body.start, body.end - body.start), chunk);
  const piece = (back[2] as Extract<FromWorker, { type: "piece" }>).piece;
  assert.deepEqual(piece.results, [{ when: new Date(0), n: 1n }]); // V8 serialization keeps types
  assert.equal(new TextDecoder().decode(piece.encoded!.bytes), "x\n");
  assert.deepEqual(decodeFrames(encodeFrames([messages[0]])), [messages[0]]);
});

Deno.test("FrameReader: a stream cut at every byte gives the same messages, nothing pending after", () => {
  const bytes = encodeFrames(messages);
  const reader = new FrameReader();
  const got: unknown[] = [];
  for (let i = 0; i < bytes.length; i++) got.push(...reader.push(bytes.subarray(i, i + 1)));
  assert.equal(got.length, 3);
  assert.equal(reader.pending, 0);
  assert.throws(
    () => encodeFrame({ type: "init", spec: () => 1, context: { workerIndex: 0, workers: 1 } }),
    (e) => e instanceof DOMException && e.name === "DataCloneError",
  );
});
