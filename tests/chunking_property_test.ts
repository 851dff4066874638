/**
 * Property: however the input is cut (random chunkBytes) and however it
 * arrives (random read-block sizes), the records equal one parse of the whole
 * file by an independent parser (csv-parse).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parse as parseWhole } from "csv-parse/sync";
import { taskSource } from "../lib/input.ts";
import { resolveRunOptions } from "../lib/options.ts";
import { parseDelimited } from "../workers/csv.ts";
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
  const source = taskSource(piecewise(bytes, pieces), options);
  const head = await source.open();
  const records: unknown[] = [];
  for (let task = await source.next(); task; task = await source.next()) {
    assert.equal(task.kind, "chunk");
    if (task.kind !== "chunk") break;
    const { buffer, start, end } = task.chunk;
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
