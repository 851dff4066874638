/**
 * Property: however the input is cut (random chunkBytes) and however it
 * arrives (random read-block sizes), the records equal one parse of the whole
 * file by an independent parser (csv-parse).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parse as parseWhole } from "csv-parse/sync";
import { cutterFor } from "../lib/formats/cutter.ts";
import { planInput } from "../lib/input/source.ts";
import { resolveRunOptions } from "../lib/options.ts";
import { parseDelimited } from "../lib/formats/csv.ts";
import { Pool } from "../mod.ts";
import { fixture, piecewise } from "./helpers.ts";

const CHARS = ["a", "b", " ", ",", '"', "\n", "\r", "\r\n", "é", "€", "😀", "\t", "z"];

/** A field: quoted when it must be (or at random), with quotes doubled. */
const field = fc.tuple(fc.array(fc.constantFrom(...CHARS), { maxLength: 8 }), fc.boolean()).map(
  ([parts, forceQuote]) => {
    const text = parts.join("");
    const needs = /[,"\r\n]/.test(text);
    return needs || forceQuote ? `"${text.replaceAll('"', '""')}"` : text;
  },
);

/** A whole CSV document: header c0..cN, records, LF or CRLF, blank lines, maybe no final newline. */
const csvDocument = fc.integer({ min: 2, max: 5 }).chain((width) =>
  fc.record({
    width: fc.constant(width),
    records: fc.array(fc.array(field, { minLength: width, maxLength: width }), { maxLength: 40 }),
    endings: fc.array(fc.constantFrom("\n", "\r\n", "\n\n"), { minLength: 1, maxLength: 5 }),
    finalNewline: fc.boolean(),
    bom: fc.boolean(),
  })
).map(({ width, records, endings, finalNewline, bom }) => {
  const header = Array.from({ length: width }, (_, i) => `c${i}`);
  const lines = [header.join(","), ...records.map((r) => r.join(","))]
    // A record of one empty field per column would be ",,": fine. An all-empty 1-col line is excluded by width >= 2.
    .map((line, i) =>
      line + (i < records.length || finalNewline ? endings[i % endings.length] : "")
    );
  return (bom ? "\ufeff" : "") + lines.join("");
});

function oracle(text: string): Record<string, string>[] {
  return parseWhole(text, {
    columns: true,
    bom: true,
    relax_quotes: true,
    skip_empty_lines: true,
    record_delimiter: ["\r\n", "\n"],
  });
}

async function chunkedRecords(text: string, chunkBytes: number, pieces: number[]) {
  const bytes = new TextEncoder().encode(text);
  const options = resolveRunOptions({ format: "csv", chunkBytes });
  const { head, source } = await planInput(piecewise(bytes, pieces), options).open();
  const records: unknown[] = [];
  for (let task = await source.next(); task; task = await source.next()) {
    assert.equal(task.body.kind, "chunk");
    if (task.body.kind !== "chunk") break;
    const { buffer, start, end } = task.body;
    const chunkText = new TextDecoder().decode(new Uint8Array(buffer, start, end - start));
    const parsed = parseDelimited(chunkText, ",", head.columns!);
    assert.equal(parsed.bad.size, 0, `bad records: ${JSON.stringify([...parsed.bad])}`);
    records.push(...parsed.rows);
  }
  return records;
}

Deno.test("chunked reading equals one whole-file parse (1000 random documents)", async () => {
  await fc.assert(
    fc.asyncProperty(
      csvDocument,
      fc.integer({ min: 1, max: 300 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 6 }),
      async (text, chunkBytes, pieces) => {
        assert.deepEqual(await chunkedRecords(text, chunkBytes, pieces), oracle(text));
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("through real workers, ordered results equal one whole-file parse", async () => {
  await using pool = await Pool.start(fixture("identity.ts"), { workers: 2 });
  await fc.assert(
    fc.asyncProperty(
      csvDocument,
      fc.integer({ min: 1, max: 200 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 4 }),
      async (text, chunkBytes, pieces) => {
        const bytes = new TextEncoder().encode(text);
        const results = [];
        const input = piecewise(bytes, pieces);
        for await (const r of pool.classify(input, { format: "csv", chunkBytes, ordered: true })) {
          results.push(r);
        }
        assert.deepEqual(results, oracle(text));
      },
    ),
    { numRuns: 60 },
  );
});

/** Quote-aware boundaries found byte by byte: the cutter's rules with no decoding at all. */
function byteBoundaries(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let inQuote = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inQuote) {
      if (b === 34) {
        if (bytes[i + 1] === 34) i++;
        else inQuote = false;
      }
    } else if (b === 34) {
      const before = i === 0 ? 10 : bytes[i - 1];
      if (before === 10 || before === 44) inQuote = true;
    } else if (b === 10) out.push(i);
  }
  return out;
}

Deno.test("the cutter finds the same boundaries in bytes that are not valid UTF-8", () => {
  // Stray continuation bytes, truncated sequences and 0xff next to quotes, commas and LFs.
  const piece = fc.constantFrom(
    [97],
    [44],
    [34],
    [10],
    [0xff],
    [0xc3],
    [0xe2, 0x82],
    [0x80],
    [0xc3, 0xa9],
    [0xf0, 0x9f, 0x98, 0x80],
  );
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 60 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
      (pieces, steps) => {
        const bytes = new Uint8Array(pieces.flat());
        const expected = byteBoundaries(bytes);
        // Feed the bytes in steps, as the reader does, taking each boundary it returns.
        const cutter = cutterFor("csv");
        const found: number[] = [];
        let from = 0;
        let to = 0;
        for (let k = 0; to < bytes.length; k++) {
          to = Math.min(bytes.length, to + steps[k % steps.length]);
          const lf = cutter.last(bytes, from, to);
          if (lf !== -1) found.push(lf);
          from = to;
        }
        // last() returns only the last boundary of each step: compare with the last expected one per step.
        const lastPerStep: number[] = [];
        to = 0;
        for (let k = 0, prev = 0; to < bytes.length; k++) {
          to = Math.min(bytes.length, to + steps[k % steps.length]);
          const inStep = expected.filter((i) => i >= prev && i < to);
          if (inStep.length) lastPerStep.push(inStep[inStep.length - 1]);
          prev = to;
        }
        assert.deepEqual(found, lastPerStep);
      },
    ),
    { numRuns: 2000 },
  );
});
