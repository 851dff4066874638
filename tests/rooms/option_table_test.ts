/** The option table: one declaration per option, from which checks, flags and help are made. */
import assert from "node:assert/strict";
import { POOL_KEYS, resolveRunOptions, RUN_KEYS } from "../../lib/options.ts";
import { FlagError, integer, size } from "../../lib/options/kinds.ts";
import { OPTIONS, type OptionSpec } from "../../lib/options/table.ts";
import { help } from "../../lib/cli/help.ts";
import { parse } from "../../lib/cli/args.ts";

const SPECS: readonly OptionSpec[] = OPTIONS;

Deno.test("option table: every key once, every flag once, every flag in the help within 100 columns", () => {
  const keys = SPECS.flatMap((s) => s.key === undefined ? [] : [s.key]);
  assert.equal(new Set(keys).size, keys.length);
  assert.deepEqual(new Set(keys), new Set([...POOL_KEYS, ...RUN_KEYS]));
  const flags = SPECS.flatMap((s) => s.flag ? [s.flag.name] : []);
  assert.equal(new Set(flags).size, flags.length);
  const text = help();
  for (const flag of flags) assert.match(text, new RegExp(`--${flag}\\b`));
  for (const line of text.split("\n")) assert.ok(line.length <= 100, line);
});

Deno.test("option kinds: one check for the library and one reading for the command", () => {
  assert.throws(() => integer().check("workers", "2"), TypeError);
  assert.throws(() => integer().check("workers", 0), RangeError);
  assert.equal(integer(0).check("retries", 0), 0);
  assert.equal(size().read("chunk-bytes", "4M"), 4 << 20);
  assert.throws(
    () => size().read("chunk-bytes", "4X"),
    (e) => e instanceof FlagError && /a positive integer or a size such as 64K/.test(e.message),
  );
  assert.deepEqual(resolveRunOptions({}).chunkBytes, 512 << 10);
  assert.equal(resolveRunOptions({ retries: 0 }).retries, 0);
});

Deno.test("the command's flags become the library's options, read as their kinds", async () => {
  const command = await parse([
    "-w",
    "3",
    "--ordered",
    "--chunk-bytes",
    "64k",
    "--no-header",
    "--columns",
    "a,b",
    "-d",
    "\\t",
    "--rate-limit",
    "2.5",
    "--errors",
    "e.ndjson",
    "--redis",
    "redis://127.0.0.1:6390",
    "--high-water",
    "8",
    "--wait-for-workers",
    "2.5",
    "m.ts",
    "in.tsv",
  ]);
  const options = command!.options;
  assert.equal(options.workers, 3);
  assert.equal(options.ordered, true);
  assert.equal(options.chunkBytes, 64 << 10);
  assert.equal(options.header, false);
  assert.deepEqual(options.columns, ["a", "b"]);
  assert.equal(options.delimiter, "\t");
  assert.deepEqual(options.rateLimit, { perSecond: 2.5 });
  assert.equal(options.onError, "skip"); // an errors file means skipping
  assert.equal(options.encode, "ndjson");
  assert.deepEqual(options.redis, {
    url: "redis://127.0.0.1:6390",
    highWater: 8,
    waitForWorkers: 2500,
  });
  assert.equal(command!.errors, "e.ndjson");
});
