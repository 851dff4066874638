/**
 * Results typed from the plug-in module: `classify<typeof import("./m.ts")>`
 * gives what the module's classify returns, and a tagged result of a file
 * has a line. These are checked by the type checker (a wrong type fails
 * `deno test`) and by the values the run yields.
 */
import assert from "node:assert/strict";
import { classify, Pool } from "../mod.ts";

type Hits = typeof import("../examples/hits.ts");
const module = new URL("../examples/hits.ts", import.meta.url);
const input = new URL("../examples/reviews.csv", import.meta.url);
const spec = { words: ["good", "great"] };

Deno.test("classify<typeof import(module)> types the results from the module's classify", async () => {
  const seen: { id: string; hits: number }[] = [];
  for await (const result of classify<Hits>(module, input, { spec, ordered: true })) {
    const hits: number = result.hits; // not unknown, and undefined is dropped
    const id: string = result.id;
    seen.push({ id, hits });
  }
  assert.deepEqual(seen, [{ id: "1", hits: 1 }, { id: "3", hits: 2 }]);
});

Deno.test("a tagged result of a file has a line: number", async () => {
  const lines: number[] = [];
  for await (
    const tagged of classify<Hits>(module, input, { spec, ordered: true, tagged: true })
  ) {
    const line: number = tagged.line; // number, not number | undefined
    const hits: number = tagged.result.hits;
    lines.push(line + hits * 100);
  }
  assert.deepEqual(lines, [102, 204]);
});

Deno.test("a Pool types its results from the module the same way", async () => {
  await using pool = await Pool.start(module, { spec });
  const results = [];
  for await (const tagged of pool.classify<Hits>(input, { ordered: true, tagged: true })) {
    const line: number = tagged.line;
    results.push([line, tagged.result.id]);
  }
  assert.deepEqual(results, [[2, "1"], [4, "3"]]);
  const rows = [{ id: "9", text: "great" }];
  for await (const result of pool.classify<Hits>(rows)) assert.equal(result.hits, 1);
});
