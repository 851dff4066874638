/**
 * The shape of the code, pinned: small modules, small classes and
 * functions, no module-level mutable state inside workers, and imports that
 * run only downward between the folders named for the sides of the seams
 * (README, Development). Parsed with TypeScript's own parser.
 */
import assert from "node:assert/strict";
import ts from "typescript";

const ROOT = new URL("../", import.meta.url);
const MAX_FILE_LINES = 400;
const MAX_CLASS_LINES = 300;
const MAX_FUNCTION_LINES = 80;

/** Every .ts file under `dir` (relative to the root). */
function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const entry of Deno.readDirSync(new URL(path, ROOT))) {
      const child = `${path}/${entry.name}`;
      if (entry.isDirectory) walk(child);
      else if (entry.name.endsWith(".ts")) out.push(child);
    }
  };
  walk(dir);
  return out.sort();
}

const FILES = [...sources("lib"), ...sources("workers")];

function parse(path: string): ts.SourceFile {
  const text = Deno.readTextFileSync(new URL(path, ROOT));
  return ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
}

function lines(file: ts.SourceFile, node: ts.Node): number {
  const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
  const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
  return end - start + 1;
}

function name(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  return named.name?.getText() ?? "(anonymous)";
}

Deno.test("no source file in lib/ or workers/ is over 400 lines, no class over 300, no function over 80", () => {
  const problems: string[] = [];
  for (const path of FILES) {
    const file = parse(path);
    const total = file.getLineAndCharacterOfPosition(file.getEnd()).line;
    if (total > MAX_FILE_LINES) problems.push(`${path}: ${total} lines`);
    const visit = (node: ts.Node) => {
      if (ts.isClassLike(node) && lines(file, node) > MAX_CLASS_LINES) {
        problems.push(`${path}: class ${name(node)}: ${lines(file, node)} lines`);
      }
      if (ts.isFunctionLike(node) && (node as { body?: ts.Node }).body) {
        const body = (node as unknown as { body: ts.Node }).body;
        if (lines(file, body) > MAX_FUNCTION_LINES) {
          problems.push(`${path}: function ${name(node)}: ${lines(file, body)} lines`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  assert.deepEqual(problems, []);
});

Deno.test("no module-level let or var in workers/: a worker's state lives in objects", () => {
  const problems: string[] = [];
  for (const path of sources("workers")) {
    const file = parse(path);
    for (const statement of file.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      const flags = statement.declarationList.flags;
      if (!(flags & ts.NodeFlags.Const)) problems.push(`${path}: ${statement.getText(file)}`);
    }
  }
  assert.deepEqual(problems, []);
});

/** The relative imports of `path`, resolved from the root. */
function imports(path: string): string[] {
  const file = parse(path);
  const out: string[] = [];
  for (const statement of file.statements) {
    const spec = (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement))
      ? statement.moduleSpecifier
      : undefined;
    if (spec && ts.isStringLiteral(spec) && spec.text.startsWith(".")) {
      out.push(new URL(spec.text, new URL(path, ROOT)).pathname.slice(ROOT.pathname.length));
    }
  }
  return out;
}

/** Folders a module in `from` may import, by prefix; the rest is forbidden. */
const RULES: [from: string, allowed: string[]][] = [
  ["lib/formats/", ["lib/formats/"]],
  ["lib/wire/", ["lib/wire/", "lib/formats/", "lib/plugin.ts"]],
  ["lib/remote/", ["lib/remote/", "lib/wire/"]],
  ["workers/", [
    "workers/",
    "lib/formats/",
    "lib/wire/",
    "lib/plugin.ts",
    "lib/input/decode_protocol.ts",
    "lib/input/compression.ts",
    "lib/remote/",
  ]],
  ["lib/input/", [
    "lib/input/",
    "lib/remote/",
    "lib/formats/",
    "lib/wire/",
    "lib/errors.ts",
    "lib/files.ts",
    "lib/options.ts",
    "lib/checks.ts",
    "workers/decode_worker.ts",
  ]],
  ["lib/run/", [
    "lib/run/",
    "lib/report.ts",
    "lib/remote/",
    "lib/numbers.ts",
    "lib/input/",
    "lib/wire/",
    "lib/formats/",
    "lib/backends/backend.ts",
    "lib/errors.ts",
    "lib/options.ts",
    "lib/files.ts",
  ]],
  ["lib/backends/backend.ts", ["lib/wire/", "lib/errors.ts"]],
];

Deno.test("imports run downward: formats, wire, workers, input, run and the seam import nothing above them", () => {
  const problems: string[] = [];
  for (const path of FILES) {
    const rule = RULES.find(([from]) => path.startsWith(from));
    for (const target of imports(path)) {
      if (!target.startsWith("lib/cli/") || path.startsWith("lib/cli/")) {
        if (rule && !rule[1].some((allowed) => target.startsWith(allowed))) {
          problems.push(`${path} imports ${target}`);
        }
      } else problems.push(`${path} imports the command's ${target}`);
    }
  }
  assert.deepEqual(problems, []);
});
