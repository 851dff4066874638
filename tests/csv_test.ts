/** The CSV/TSV parser and the chunk cutter, without workers. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseDelimited, parseDelimitedRows, recordParsers } from "../lib/formats/csv.ts";
import { parseNdjson } from "../lib/formats/ndjson.ts";
import { cutterFor } from "../lib/formats/cutter.ts";

const rows = (text: string) => parseDelimitedRows(text, ",");

Deno.test("plain records split on commas and LF or CRLF", () => {
  assert.deepEqual(rows("a,b\n1,2\r\n3,4"), [["a", "b"], ["1", "2"], ["3", "4"]]);
});

Deno.test("quoted fields hold delimiters, doubled quotes and line breaks", () => {
  assert.deepEqual(rows('"a,b","say ""hi""","x\ny","cr\rlf\r\nend"\n'), [
    ["a,b", 'say "hi"', "x\ny", "cr\rlf\r\nend"],
  ]);
});

Deno.test("empty lines are skipped, empty fields are kept", () => {
  assert.deepEqual(rows("a,,c\n\n\r\n,\n"), [["a", "", "c"], ["", ""]]);
});

Deno.test("a trailing delimiter makes an empty last field", () => {
  assert.deepEqual(rows("a,b,\n1,2,"), [["a", "b", ""], ["1", "2", ""]]);
  assert.deepEqual(rows('"a",\n"1",'), [["a", ""], ["1", ""]]);
});

Deno.test("a quote inside an unquoted field is a literal character", () => {
  assert.deepEqual(rows('5" screen,ok\n'), [['5" screen', "ok"]]);
});

Deno.test("text after a closing quote makes the record malformed", () => {
  assert.throws(() => rows('"ab"c,d\n'), /line 1: unexpected "c" after a closing quote/);
});

Deno.test("an unclosed quote is reported at the line where its record starts", () => {
  assert.throws(() => rows('a,b\n1,2\n"open,3\nmore\n'), /line 3: unclosed quote/);
});

Deno.test("records become objects keyed by the header, with their start lines", () => {
  const out = parseDelimited('1,"two\nlines"\n\n3,x\n', ",", ["id", "text"]);
  assert.deepEqual(out.rows, [{ id: "1", text: "two\nlines" }, { id: "3", text: "x" }]);
  assert.deepEqual(out.lines, [1, 4]);
  assert.equal(out.newlines, 4);
});

Deno.test("a record with the wrong field count is a bad record in place", () => {
  const out = parseDelimited("1,a\n2\n3,c,extra\n4,d\n", ",", ["id", "text"]);
  assert.equal(out.rows.length, 4);
  assert.deepEqual([...out.bad.entries()], [
    [1, { line: 2, reason: "expected 2 fields (as in the header), found 1", from: 4, to: 6 }],
    [2, { line: 3, reason: "expected 2 fields (as in the header), found 3", from: 6, to: 16 }],
  ]);
  assert.deepEqual(out.rows[3], { id: "4", text: "d" });
});

Deno.test("a __proto__ column is an own property, not the prototype", () => {
  const out = parseDelimited("x\n", ",", ["__proto__"]);
  const row = out.rows[0] as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(row), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(row, "__proto__")?.value, "x");
});

Deno.test("TSV uses tabs and the same quoting", () => {
  assert.deepEqual(parseDelimitedRows('a\t"b\tc"\n', "\t"), [["a", "b\tc"]]);
});

Deno.test("NDJSON parses each line, skips blank ones, flags bad JSON with its line", () => {
  const out = parseNdjson('{"a":1}\n\n  \n[2]\n{bad\n"s"');
  assert.deepEqual(out.rows.filter((_, i) => !out.bad.has(i)), [{ a: 1 }, [2], "s"]);
  assert.deepEqual(out.lines, [1, 4, 5, 6]);
  assert.match(out.bad.get(2)!.reason, /^not valid JSON/);
  assert.equal(out.bad.get(2)!.line, 5);
});

Deno.test("the cutter finds the last LF outside quotes", () => {
  const bytes = new TextEncoder().encode('a,b\n"x\ny",z\n"open\n');
  const cutter = cutterFor("csv");
  assert.equal(cutter.last(bytes, 0, bytes.length), 11);
});

Deno.test("the cutter keeps quote state across buffers, even between two quotes", () => {
  const enc = new TextEncoder();
  const cutter = cutterFor("csv");
  const a = enc.encode('1,"say ""');
  assert.equal(cutter.last(a, 0, a.length), -1);
  const b = enc.encode('a,"say ""hi""\nthere"\n');
  // The first 9 bytes repeat a (already scanned); the LF inside quotes is not a boundary.
  assert.equal(cutter.last(b, 9, b.length), b.length - 1);
});

Deno.test("the generated fast path gives what the field-by-field walker gives, on any text", () => {
  // Arbitrary text, well-formed or not: quotes anywhere, ragged rows, CR alone, empty lines.
  const chars = ["a", "b", ",", "\t", '"', '""', "\n", "\r\n", "\r", "é", "😀", " "];
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...chars), { maxLength: 120 }),
      fc.integer({ min: 1, max: 6 }),
      fc.constantFrom(",", "\t"),
      (parts, width, delimiter) => {
        const text = parts.join("");
        const columns = Array.from({ length: width }, (_, i) => `c${i}`);
        const parsers = recordParsers(columns, delimiter);
        const fast = parseDelimited(text, delimiter, columns, parsers);
        // The reference takes the walker for every record.
        const walked = parseDelimited(text, delimiter, columns, {
          ...parsers,
          line: () => undefined,
        });
        assert.deepEqual(fast.rows, walked.rows);
        assert.deepEqual(fast.lines, walked.lines);
        assert.deepEqual([...fast.bad], [...walked.bad]);
        assert.equal(fast.newlines, walked.newlines);
        assert.equal(fast.openQuote, walked.openQuote);
        assert.equal(fast.newlines, countLf(text));
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("more columns than the generated parser takes still parse, and ragged rows fail", () => {
  const columns = Array.from({ length: 300 }, (_, i) => `c${i}`);
  const line = columns.map((_, i) => String(i)).join(",");
  const out = parseDelimited(`${line}\n${line},x\n"q",${line.slice(2)}\n`, ",", columns);
  assert.equal(out.rows.length, 3);
  assert.equal((out.rows[0] as Record<string, string>).c299, "299");
  assert.deepEqual([...out.bad.keys()], [1]);
  assert.equal((out.rows[2] as Record<string, string>).c0, "q");
});

function countLf(text: string): number {
  return text.split("\n").length - 1;
}
