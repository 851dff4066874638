/**
 * Word from a coordinator to the crunch worker holding a task, through a
 * real redis-server: a split or a cancel is read once by the worker that
 * asks for its tasks, and a cancelled task not yet claimed is taken off the
 * task stream.
 */
import assert from "node:assert/strict";
import { RedisClient, text } from "../lib/backends/redis/client.ts";
import { sendControl, takeControls } from "../lib/backends/redis/controls.ts";
import { keys } from "../lib/backends/redis/wire.ts";
import { HAVE_REDIS, RedisServer } from "./redis_harness.ts";

Deno.test({
  name: "redis: controls are read once, for the tasks asked about; a cancel takes the entry off",
  ignore: !HAVE_REDIS,
  async fn() {
    const server = await RedisServer.start();
    const ctl = await RedisClient.connect(server.url());
    try {
      const run = "r1";
      const entry = text(await ctl.command("XADD", keys.tasks(run), "*", "tid", "7"))!;
      await sendControl(ctl, run, 5, { kind: "split", parts: 8 });
      await sendControl(ctl, run, 7, { kind: "cancel" }, entry);
      assert.equal(await ctl.command("XLEN", keys.tasks(run)), 0);
      // A worker holding 5 and 6 hears of 5 only; 7's word waits for whoever holds it.
      assert.deepEqual([...await takeControls(ctl, run, [5, 6])], [[5, {
        kind: "split",
        parts: 8,
      }]]);
      assert.deepEqual([...await takeControls(ctl, run, [5, 6])], []);
      assert.deepEqual([...await takeControls(ctl, run, [7])], [[7, { kind: "cancel" }]]);
      assert.equal(await ctl.command("EXISTS", keys.controls(run)), 0);
    } finally {
      ctl.close();
      await server.stop();
    }
  },
});
