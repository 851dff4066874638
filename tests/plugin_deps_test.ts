/**
 * A plug-in finds its dependencies the same way in every mode: bare names
 * mapped by the `deno.json` of its own folder (a local module, the crunch
 * library itself for its SharedTable), and `npm:` specifiers. Run through the
 * library (threads and processes), the command (run directly, under `deno
 * task --config <crunch>/deno.json`, and installed with `deno install -g`),
 * and `crunch worker`s through Redis. What `prepare()` shares comes to each.
 */
import assert from "node:assert/strict";
import { classify, ModuleError } from "../mod.ts";
import { CLI, collect, runDeno } from "./helpers.ts";
import { expected, pluginFolder } from "./plugin_folder.ts";
import { HAVE_REDIS, RedisServer, startWorkers } from "./redis_harness.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** NDJSON lines, parsed and put in id order. */
function parsed(stdout: string): unknown[] {
  return stdout.trim().split("\n").map((l) => JSON.parse(l)).sort((a, b) => a.id - b.id);
}

Deno.test("plug-in imports mapped by its own deno.json: the library, on threads and processes", async () => {
  const { dir, plugin, data } = await pluginFolder();
  // A script in the plug-in's folder runs under its config, as Deno finds it.
  await Deno.writeTextFile(
    `${dir}/script.ts`,
    `import { classify } from "@crunch/crunch";
const isolation = Deno.args[0] as "thread" | "process";
for await (const r of classify(new URL("./plugin.ts", import.meta.url), "${data}", { isolation, ordered: true })) {
  console.log(JSON.stringify(r));
}
`,
  );
  for (const isolation of ["thread", "process"]) {
    const run = await runDeno(["run", "-A", "script.ts", isolation], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(parsed(run.stdout), expected, isolation);
  }
  // From a script that runs under another config (this suite's), worker processes still run
  // under the plug-in's; threads cannot (they share this process's map), and say what to do.
  const onProcesses = await collect(
    classify(plugin, data, { isolation: "process", ordered: true }),
  );
  assert.deepEqual(onProcesses, expected);
  const error = await collect(classify(plugin, data)).then(() => undefined, (e) => e);
  assert.ok(error instanceof ModuleError, String(error));
  assert.match(
    error.message,
    new RegExp(
      `"word-score" not .*\\(at file://${dir}/plugin\\.ts:\\d+:\\d+\\)\\. Its imports are mapped by ` +
        `${dir}/deno\\.json, which this process does not run under .* run with --config ` +
        `${dir}/deno\\.json, or use isolation "process"`,
    ),
  );
  assert.doesNotMatch(error.message, /deno add/);
});

Deno.test("plug-in imports mapped by its own deno.json: the command, however it is started", async () => {
  const { dir, plugin, data } = await pluginFolder();
  const outside = await Deno.makeTempDir({ prefix: "crunch-elsewhere-" });
  const runs: [string, Promise<{ code: number; stdout: string; stderr: string }>][] = [];
  runs.push(["run", runDeno(["run", "-A", CLI, plugin, data], { cwd: outside })]);
  runs.push([
    "process",
    runDeno(["run", "-A", CLI, "--isolation", "process", plugin, data], { cwd: outside }),
  ]);
  runs.push([
    "deno task --config",
    runDeno(["task", "-q", "--config", `${ROOT}deno.json`, "crunch", plugin, data], { cwd: dir }),
  ]);
  for (const [how, run] of runs) {
    const { code, stdout, stderr } = await run;
    assert.equal(code, 0, `${how}: ${stderr}`);
    assert.deepEqual(parsed(stdout), expected, how);
  }
  // Installed: deno install -g bakes a config of its own into the command.
  const root = await Deno.makeTempDir({ prefix: "crunch-install-" });
  const install = await runDeno(["install", "-g", "-A", "-q", "--root", root, "-n", "crunch", CLI]);
  assert.equal(install.code, 0, install.stderr);
  const installed = await new Deno.Command(`${root}/bin/crunch`, {
    args: [plugin, data],
    cwd: outside,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(installed.stderr);
  assert.equal(installed.code, 0, stderr);
  assert.deepEqual(parsed(new TextDecoder().decode(installed.stdout)), expected, "installed");
});

Deno.test({
  name: "plug-in imports mapped by its own deno.json: crunch workers through Redis",
  ignore: !HAVE_REDIS,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { dir, plugin, data } = await pluginFolder();
    const server = await RedisServer.start();
    const workers = await startWorkers(server, 1, ["--allow-module", `${dir}/`]);
    let log = "";
    try {
      const results = await collect(classify(plugin, data, { redis: server.url(), ordered: true }));
      assert.deepEqual(results, expected);
    } finally {
      [{ log }] = await Promise.all(workers.map((w) => w.stop()));
      await server.stop();
    }
    assert.match(log, /maps its imports in .*deno\.json: on worker processes/);
  },
});
