/**
 * Writes a CSV of synthetic reviews: id, timestamp, user, text (6 to 14
 * words), amount; about 100 bytes a record, deterministic for a seed.
 *
 * Usage: `deno run -A examples/generate.ts <out.csv> [records] [seed]`
 *
 * @module
 */

import { random, word } from "./words.ts";

/** Writes `records` synthetic reviews to `path` as CSV. */
export async function generateReviews(path: string, records: number, seed = 7): Promise<void> {
  const next = random(seed);
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  const start = Date.UTC(2026, 0, 1);
  let text = "id,timestamp,user,text,amount\n";
  for (let i = 0; i < records; i++) {
    const words = [];
    const count = 6 + Math.floor(next() * 9);
    for (let w = 0; w < count; w++) words.push(word(Math.floor(next() * next() * 400_000)));
    const when = new Date(start + Math.floor(next() * 365 * 86_400_000)).toISOString().slice(0, 19);
    const user = `u${Math.floor(next() * 50_000)}`;
    const quoted = next() < 0.05 ? `"${words.join(" ")}, really"` : words.join(" ");
    text += `${i},${when},${user},${quoted},${(next() * 500).toFixed(2)}\n`;
    if (text.length > 1 << 20) {
      await file.write(encoder.encode(text));
      text = "";
    }
  }
  await file.write(encoder.encode(text));
}

if (import.meta.main) {
  const [path, records = "300000", seed = "7"] = Deno.args;
  if (!path) {
    console.error("usage: generate.ts <out.csv> [records] [seed]");
    Deno.exit(2);
  }
  await generateReviews(path, Number(records), Number(seed));
  console.log(`wrote ${records} records to ${path}`);
}
