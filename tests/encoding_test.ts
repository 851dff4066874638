/**
 * Text encodings: bytes that are not valid UTF-8 are counted and warned
 * about, never silently replaced; `encoding` reads Latin-1, Windows-1252,
 * UTF-16 and Shift_JIS files, checked against Python's csv module reading
 * the same bytes in the same encoding.
 */
import assert from "node:assert/strict";
import { classify, files, type Progress } from "../mod.ts";
import { fixture, runCrunch } from "./helpers.ts";

const identity = fixture("identity.ts").pathname;

/** The rows Python's csv.DictReader reads from `path` in `encoding`. */
async function pythonRows(path: string, encoding: string, delimiter = ","): Promise<unknown[]> {
  const script = "import csv, json, sys\n" +
    "with open(sys.argv[1], newline='', encoding=sys.argv[2]) as f:\n" +
    "    print(json.dumps(list(csv.DictReader(f, delimiter=sys.argv[3]))))\n";
  const out = await new Deno.Command("python3", { args: ["-c", script, path, encoding, delimiter] })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Rows of many records in several scripts, some fields quoted with newlines and delimiters. */
function table(records: number, words: string[], delimiter = ","): string {
  let text = `id${delimiter}text${delimiter}note\n`;
  for (let k = 0; k < records; k++) {
    const word = words[k % words.length];
    const text1 = k % 7 === 0 ? `"${word} ""quoted""\nnext${delimiter} line"` : `${word} ${k}`;
    text += `${k}${delimiter}${text1}${delimiter}${k % 3 ? word : ""}\n`;
  }
  return text;
}

async function run(path: string, options: Record<string, unknown>) {
  const rows: unknown[] = [];
  let last: Progress | undefined;
  for await (
    const row of classify(identity, path, {
      ordered: true,
      onProgress: (p) => last = p,
      ...options,
    })
  ) rows.push(row);
  return { rows, warnings: last?.warnings ?? [] };
}

async function encoded(name: string, text: string, encoding: string): Promise<string> {
  const path = `${await Deno.makeTempDir()}/${name}`;
  const out = await new Deno.Command("python3", {
    args: [
      "-c",
      "import sys; open(sys.argv[1],'wb').write(sys.stdin.read().encode(sys.argv[2]))",
      path,
      encoding,
    ],
    stdin: "piped",
  }).spawn();
  const writer = out.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  assert.equal((await out.status).code, 0);
  return path;
}

Deno.test("a Latin-1 file read as UTF-8 is counted and warned about, with the first line", async () => {
  const path = await encoded(
    "latin1.csv",
    "id,text\n1,plain\n2,café au lait\n3,naïve\n",
    "latin-1",
  );
  const { rows, warnings } = await run(path, {});
  assert.equal((rows[1] as { text: string }).text, "caf\uFFFD au lait");
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /latin1\.csv: 2 byte sequences are not valid UTF-8 \(the first on line 3\)/,
  );
  assert.match(warnings[0], /--encoding/);
  // The command says it too, before its summary.
  const command = await runCrunch([identity, path]);
  assert.equal(command.code, 0);
  assert.match(
    command.stderr,
    /warning: .*2 byte sequences are not valid UTF-8 \(the first on line 3\)/,
  );
});

Deno.test("a UTF-8 file holding U+FFFD itself is not warned about", async () => {
  const path = `${await Deno.makeTempDir()}/ok.csv`;
  await Deno.writeTextFile(path, "id,text\n1,a \uFFFD b\n");
  const { rows, warnings } = await run(path, {});
  assert.equal((rows[0] as { text: string }).text, "a \uFFFD b");
  assert.deepEqual(warnings, []);
});

for (
  const [name, python, option, delimiter] of [
    ["latin-1", "latin-1", "latin1", ","],
    ["windows-1252", "cp1252", "windows-1252", ","],
    ["utf-16 with a byte order mark", "utf-16", undefined, ","],
    ["utf-16be with a byte order mark", "utf-16", undefined, ";"],
    ["utf-16le without one", "utf-16-le", "utf-16le", ","],
    ["shift_jis, comma", "shift_jis", "shift_jis", ","],
    ["shift_jis, | (a second byte may be 0x7C)", "shift_jis", "shift_jis", "|"],
    ["iso-2022-jp (decoded by the main thread)", "iso2022_jp", "iso-2022-jp", ","],
  ] as const
) {
  Deno.test(`${name}: the rows Python's csv reads, in every worker, from ranges or a stream`, async () => {
    const words = python.startsWith("shift") || python.startsWith("iso2022")
      ? ["表示", "ソ能", "ポップ", "※注意", "漢字テスト", "ｱｲｳ"]
      : ["café", "naïve", "Øre", "€uro", "plain"];
    const bytesOf = python === "utf-16" && name.startsWith("utf-16be") ? "utf-16-be" : python;
    // What each encoding cannot hold: the euro sign in Latin-1, half-width kana in ISO-2022-JP.
    const absent = python === "latin-1" ? "€uro" : python === "iso2022_jp" ? "ｱｲｳ" : "";
    let text = table(30_000, words.filter((w) => w !== absent), delimiter);
    if (name.startsWith("utf-16be")) text = "\uFEFF" + text; // Python's utf-16-be writes no mark
    const path = await encoded("data.csv", text, bytesOf);
    const expected = await pythonRows(
      path,
      name.startsWith("utf-16be") ? "utf-16" : python,
      delimiter,
    );
    assert.equal(expected.length, 30_000);
    const options = { workers: 2, chunkBytes: 32 << 10, delimiter, encoding: option };
    const { rows, warnings } = await run(path, options);
    assert.deepEqual(rows, expected);
    assert.deepEqual(warnings, []);
  });
}

Deno.test("UTF-16 without a byte order mark, read as UTF-8, is a ParseError that names the fix", async () => {
  const path = await encoded("u16.csv", "id,text\n1,café\n", "utf-16-le");
  const r = await runCrunch([identity, path]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /looks like UTF-16LE text without a byte order mark .*--encoding utf-16le/,
  );
});

Deno.test("an unknown encoding is a TypeError (library) and a usage error (command)", async () => {
  assert.throws(
    () => classify(identity, [{}], { encoding: "klingon" }),
    (e) => e instanceof TypeError && /option encoding must be a text encoding/.test(e.message),
  );
  const r = await runCrunch(["--encoding", "klingon", identity, "x.csv"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--encoding must be a text encoding/);
});

Deno.test("many files: the warning names the file whose bytes are not UTF-8", async () => {
  const folder = await Deno.makeTempDir();
  await Deno.writeTextFile(`${folder}/a.csv`, "id,text\n1,fine\n");
  await Deno.writeFile(
    `${folder}/b.csv`,
    new Uint8Array([...new TextEncoder().encode("id,text\n1,ok\n2,caf"), 0xe9, 0x0a]),
  );
  const rows: unknown[] = [];
  let last: Progress | undefined;
  for await (const row of classify(identity, files(folder), { onProgress: (p) => last = p })) {
    rows.push(row);
  }
  assert.equal(rows.length, 3);
  assert.equal(last?.warnings?.length, 1);
  assert.match(
    last!.warnings![0],
    /b\.csv: 1 byte sequence is not valid UTF-8 \(the first on line 3\)/,
  );
});
