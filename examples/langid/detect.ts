/**
 * Language identification as a crunch plug-in: `init` loads the model of
 * the detector that `spec.detector` names (franc, tinyld or eld, each a
 * model shipped in its npm package) once per worker, and `classify` gives
 * each sentence's language as an ISO 639-3 code beside the one the corpus
 * knows, so that accuracy can be counted from the output.
 *
 * @module
 */

import { LANGUAGES } from "./corpus.ts";

/** ISO 639-1 codes (tinyld, eld) to the corpus's ISO 639-3 codes. */
const FROM_639_1: Record<string, string> = {
  en: "eng",
  fr: "fra",
  de: "deu",
  es: "spa",
  it: "ita",
  pt: "por",
  nl: "nld",
  sv: "swe",
  da: "dan",
  pl: "pol",
  cs: "ces",
  ru: "rus",
  uk: "ukr",
  bg: "bul",
  tr: "tur",
  fi: "fin",
  hu: "hun",
  el: "ell",
  he: "heb",
  ja: "jpn",
  zh: "cmn",
  ko: "kor",
  vi: "vie",
  id: "ind",
  ar: "arb",
  hi: "hin",
  th: "tha",
};

type Detect = (text: string) => string;
let detect: Detect = () => "und";

/** `detector`: which model to load; `only`: restrict franc to the corpus's languages. */
export async function init(spec: { detector?: "franc" | "tinyld" | "eld"; only?: boolean }) {
  const detector = spec?.detector ?? "eld";
  if (detector === "franc") {
    const { franc } = await import("franc");
    const only = spec.only ? [...new Set(Object.values(LANGUAGES))] : undefined;
    detect = (text) => franc(text, { only, minLength: 1 });
  } else if (detector === "tinyld") {
    const tinyld = await import("tinyld");
    detect = (text) => FROM_639_1[tinyld.detect(text)] ?? "und";
  } else {
    const { eld } = await import("eld/medium");
    detect = (text) => FROM_639_1[eld.detect(text).language] ?? "und";
  }
}

/** The sentence's language, and whether it is the one the corpus gives. */
export function classify(row: { id: string; lang: string; text: string }) {
  const lang = detect(row.text);
  return { id: row.id, lang, ok: lang === row.lang };
}
