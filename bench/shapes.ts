/**
 * The shapes of data users have, generated (seeded) for the bench: each a
 * file of about the same size, with an `id` column (or key) in every record
 * and a `text` column of space-separated words where the shape has text.
 *
 * Usage: `deno run -A bench/shapes.ts <dir> [megabytes]` writes every shape.
 *
 * @module
 */

import type { Format } from "../lib/formats/format.ts";
import { random, word } from "../examples/words.ts";

/** One shape of data. */
export interface Shape {
  /** Short name, also the file's stem. */
  name: string;
  /** What it holds, for the bench's table. */
  description: string;
  format: Format;
  /** Whether the shape's records hold a `text` field of words. */
  text: boolean;
  /** Writes records until `bytes` are reached; returns the text of one record at a time. */
  records(seed: number): Generator<string>;
  /** The header line, with its line end (none for NDJSON). */
  header: string;
}

const CYRILLIC = "етаоинсхрдлцумвфгупбвкйхкзж";
const CJK_BASE = 0x4e00;
const EMOJI = ["😀", "🎉", "🚀", "🌍", "🔥", "✨", "🍕", "📦", "🧪", "💡"];

/** The shape's words: pseudo-words, drawn with a skew as in the reviews data. */
function words(next: () => number, count: number): string[] {
  const out = [];
  for (let w = 0; w < count; w++) out.push(word(Math.floor(next() * next() * 400_000)));
  return out;
}

function multibyteWord(next: () => number): string {
  const kind = next();
  const n = Math.floor(next() * next() * 400_000);
  if (kind < 0.45) {
    return [...word(n)].map((c) => CYRILLIC[c.charCodeAt(0) - 97] ?? c).join("");
  }
  if (kind < 0.9) {
    let out = "";
    for (let k = 1 + (n % 3); k > 0; k--) {
      out += String.fromCharCode(CJK_BASE + (n * 7919 + k) % 20_000);
    }
    return out;
  }
  return EMOJI[n % EMOJI.length];
}

function timestamp(next: () => number): string {
  const start = Date.UTC(2026, 0, 1);
  return new Date(start + Math.floor(next() * 365 * 86_400_000)).toISOString().slice(0, 19);
}

function amount(next: () => number): string {
  return (next() * 500).toFixed(2);
}

function quote(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** A shape of `id,timestamp,user,text,amount` records, `line` making each one. */
function reviews(
  name: string,
  description: string,
  line: (i: number, next: () => number) => string,
  options: { format?: Format; header?: string } = {},
): Shape {
  return {
    name,
    description,
    format: options.format ?? "csv",
    text: true,
    header: options.header ?? "id,timestamp,user,text,amount\n",
    *records(seed: number) {
      const next = random(seed);
      for (let i = 0;; i++) yield line(i, next);
    },
  };
}

/** Every shape of the bench, in the order of its tables. */
export const SHAPES: Shape[] = [
  reviews(
    "plain",
    "no quote character at all",
    (i, next) =>
      `${i},${timestamp(next)},u${Math.floor(next() * 50_000)},${
        words(next, 6 + Math.floor(next() * 9)).join(" ")
      },${amount(next)}\n`,
  ),
  reviews("quoted-5pct", "5% of text fields quoted (with a comma)", (i, next) => {
    const text = words(next, 6 + Math.floor(next() * 9)).join(" ");
    const field = next() < 0.05 ? quote(`${text}, really`) : text;
    return `${i},${timestamp(next)},u${Math.floor(next() * 50_000)},${field},${amount(next)}\n`;
  }),
  reviews("all-quoted", "every field quoted", (i, next) => {
    const fields = [
      String(i),
      timestamp(next),
      `u${Math.floor(next() * 50_000)}`,
      words(next, 6 + Math.floor(next() * 9)).join(" "),
      amount(next),
    ];
    return fields.map(quote).join(",") + "\n";
  }),
  reviews("quoted-newlines", '5% of text fields quoted, holding newlines and ""', (i, next) => {
    let text = words(next, 6 + Math.floor(next() * 9)).join(" ");
    if (next() < 0.05) {
      const w = words(next, 3);
      text = quote(`${text}\n${w[0]} "${w[1]}"\n${w[2]}`);
    }
    return `${i},${timestamp(next)},u${Math.floor(next() * 50_000)},${text},${amount(next)}\n`;
  }),
  reviews(
    "crlf",
    "CRLF line ends, no quotes",
    (i, next) =>
      `${i},${timestamp(next)},u${Math.floor(next() * 50_000)},${
        words(next, 6 + Math.floor(next() * 9)).join(" ")
      },${amount(next)}\r\n`,
    { header: "id,timestamp,user,text,amount\r\n" },
  ),
  {
    name: "wide-100",
    description: "100 columns of short values",
    format: "csv",
    text: false,
    header: ["id", ...Array.from({ length: 99 }, (_, k) => `c${k + 1}`)].join(",") + "\n",
    *records(seed: number) {
      const next = random(seed);
      for (let i = 0;; i++) {
        const fields = [String(i)];
        for (let k = 1; k < 100; k++) {
          fields.push(
            k % 3 === 0 ? word(Math.floor(next() * 5000)) : String(Math.floor(next() * 1e4)),
          );
        }
        yield fields.join(",") + "\n";
      }
    },
  },
  reviews(
    "long-2kb",
    "a ~2 KB text field per record, no quotes",
    (i, next) =>
      `${i},${timestamp(next)},u${Math.floor(next() * 50_000)},${
        words(next, 330 + Math.floor(next() * 20)).join(" ")
      },${amount(next)}\n`,
  ),
  reviews("multibyte", "text in Cyrillic, CJK and emoji (UTF-8), no quotes", (i, next) => {
    const count = 6 + Math.floor(next() * 9);
    const text = Array.from({ length: count }, () => multibyteWord(next)).join(" ");
    return `${i},${timestamp(next)},u${Math.floor(next() * 50_000)},${text},${amount(next)}\n`;
  }),
  reviews(
    "tsv",
    "tab-separated, no quotes",
    (i, next) =>
      `${i}\t${timestamp(next)}\tu${Math.floor(next() * 50_000)}\t${
        words(next, 6 + Math.floor(next() * 9)).join(" ")
      }\t${amount(next)}\n`,
    { format: "tsv", header: "id\ttimestamp\tuser\ttext\tamount\n" },
  ),
  {
    name: "ndjson-nested",
    description: "NDJSON with nested objects and arrays",
    format: "ndjson",
    text: true,
    header: "",
    *records(seed: number) {
      const next = random(seed);
      for (let i = 0;; i++) {
        yield JSON.stringify({
          id: String(i),
          timestamp: timestamp(next),
          user: { name: `u${Math.floor(next() * 50_000)}`, tags: words(next, 2), score: next() },
          text: words(next, 6 + Math.floor(next() * 9)).join(" "),
          amount: Number(amount(next)),
        }) + "\n";
      }
    },
  },
];

/** The file extension of a format. */
export function extensionOf(format: Format): string {
  return format === "ndjson" ? "ndjson" : format;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<number> {
  for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
  return bytes.length;
}

/**
 * Writes `shape` to `path` until it holds about `bytes` bytes (whole
 * records), through a `.partial` file renamed when complete.
 */
export async function writeShape(
  shape: Shape,
  path: string,
  bytes: number,
  seed = 21,
): Promise<void> {
  const encoder = new TextEncoder();
  {
    using file = await Deno.open(`${path}.partial`, { write: true, create: true, truncate: true });
    let text = shape.header;
    let written = 0;
    for (const record of shape.records(seed)) {
      text += record;
      if (text.length > 1 << 20) {
        written += await writeAll(file, encoder.encode(text));
        text = "";
        if (written >= bytes) break;
      }
    }
    if (text) await writeAll(file, encoder.encode(text));
  }
  await Deno.rename(`${path}.partial`, path);
}

if (import.meta.main) {
  const [dir, megabytes = "100"] = Deno.args;
  await Deno.mkdir(dir, { recursive: true });
  for (const shape of SHAPES) {
    const path = `${dir}/${shape.name}.${extensionOf(shape.format)}`;
    await writeShape(shape, path, Number(megabytes) * 1e6);
    console.log(`${path}: ${((await Deno.stat(path)).size / 1e6).toFixed(1)} MB`);
  }
}
