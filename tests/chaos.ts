/**
 * Seeded chaos through a real redis-server: a run of the command (ordered,
 * journaled with --resume) on `crunch worker` processes while one fault of
 * the seed's choosing strikes at a point the run is observed to have
 * reached: a worker killed (and started again under its name), a worker
 * stopped past its heartbeat then continued, Redis restarted empty, Redis
 * paused, Redis flushed, or the coordinator killed and the command run
 * again. A trial passes when the output holds every record once, in order,
 * and nothing hung. Used by tests/chaos_test.ts (a few trials) and the
 * bench (many).
 */

import { CLI, fixture } from "./helpers.ts";
import { RedisServer, startWorkers, type WorkerProcess } from "./redis_harness.ts";

/** The faults a trial can suffer. */
export const FAULTS = [
  "kill-worker",
  "stop-worker",
  "restart-redis",
  "pause-redis",
  "flush-redis",
  "kill-coordinator",
] as const;

/** One fault. */
export type Fault = (typeof FAULTS)[number];

/** How a trial ended. */
export interface TrialResult {
  seed: number;
  fault: Fault;
  /** The output held every record once, in order. */
  identical: boolean;
  /** The run did not end within its bound. */
  hung: boolean;
  duplicates: number;
  missing: number;
  seconds: number;
  /** What went wrong, when something did. */
  detail?: string;
}

/** mulberry32: a small seeded generator. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The command's standard error, kept to say what went wrong. */
const logs = new WeakMap<Deno.ChildProcess, Promise<string>>();

function spawnCommand(args: string[]): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  logs.set(child, new Response(child.stderr).text());
  return child;
}

/** Waits until `check` holds, polling; false when `ms` passed first. */
async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** The bytes of the file at `path`, 0 when it is not there. */
function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** Waits for the command to end (false after `ms`, when it is killed). */
async function ended(
  child: Deno.ChildProcess,
  ms: number,
  onHang: () => Promise<void> = () => Promise.resolve(),
): Promise<{ code: number } | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) =>
    timer = setTimeout(() => resolve(undefined), ms)
  );
  const status = await Promise.race([child.status, late]);
  clearTimeout(timer);
  if (status === undefined) {
    await onHang();
    child.kill("SIGKILL");
    await child.status;
    return undefined;
  }
  return { code: status.code };
}

/** One trial: `records` records through 2 worker processes, and the fault `seed` picks. */
export async function trial(seed: number, records = 3000, bound = 120_000): Promise<TrialResult> {
  const next = random(seed);
  const fault = FAULTS[Math.floor(next() * FAULTS.length)];
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "crunch-chaos-" });
  const input = `${dir}/in.csv`;
  await Deno.writeTextFile(
    input,
    "id,text\n" + Array.from({ length: records }, (_, i) => `${i},row ${i}\n`).join(""),
  );
  const out = `${dir}/out.ndjson`;
  const server = await RedisServer.start();
  let workers: WorkerProcess[] = [];
  const result: TrialResult = {
    seed,
    fault,
    identical: false,
    hung: false,
    duplicates: 0,
    missing: 0,
    seconds: 0,
  };
  try {
    workers = await startWorkers(server, 2, ["-w", "1"]);
    const args = [
      "--redis",
      server.url(),
      "--ordered",
      "--resume",
      "--chunk-bytes",
      "1k",
      "-s",
      '{"ms": 1}',
      "-o",
      out,
      fixture("slow.ts").pathname,
      input,
    ];
    let command = spawnCommand(args);
    // The fault strikes once the output is observed between 10% and 60% written.
    const at = (0.1 + 0.5 * next()) * records *
      `{"id":"${records}","text":"row ${records}"}\n`.length;
    const partial = `${out}.crunch-partial`;
    await until(() => sizeOf(partial) >= at || sizeOf(out) > 0, bound);
    if (sizeOf(out) === 0) {
      const restart = await strike(fault, server, workers, command, next);
      if (restart) command = spawnCommand(args);
    }
    const status = await ended(command, bound, async () => {
      if (!Deno.env.get("CHAOS_DEBUG")) return;
      const client = await server.client();
      const keys = (await client.command("KEYS", "*")) as Uint8Array[];
      for (const key of keys) {
        const name = new TextDecoder().decode(key);
        const type = await client.command("TYPE", name);
        let info: unknown = type;
        if (type === "stream") {
          info = [
            await client.command("XLEN", name),
            await client.command("XINFO", "GROUPS", name),
          ];
        }
        console.error(
          "KEY",
          name,
          JSON.stringify(info, (_, v) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v),
        );
      }
      client.close();
    });
    if (status === undefined || status.code !== 0) {
      result.hung = status === undefined;
      const log = (await logs.get(command))!.trim().split("\n").slice(-3).join(" | ");
      result.detail = `${status ? `exit ${status.code}` : "hung"}: ${log}`;
      return result;
    }
    const ids = (await Deno.readTextFile(out)).trim().split("\n").map((l) =>
      Number(JSON.parse(l).id)
    );
    const seen = new Set(ids);
    result.duplicates = ids.length - seen.size;
    result.missing = records - seen.size;
    result.identical = ids.length === records && ids.every((id, i) => id === i);
    return result;
  } finally {
    const stopped = await Promise.all(workers.map((w) => w.stop("SIGKILL")));
    if (result.detail !== undefined || !result.identical) {
      result.detail = `${result.detail ?? ""} | workers: ${
        stopped.map((s) => s.log.trim().split("\n").slice(-4).join(" / ")).join(" || ")
      }`;
    }
    await server.stop();
    result.seconds = (performance.now() - started) / 1000;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Makes `fault` happen; true when the command was killed and is to be run again. */
async function strike(
  fault: Fault,
  server: RedisServer,
  workers: WorkerProcess[],
  command: Deno.ChildProcess,
  next: () => number,
): Promise<boolean> {
  const victim = Math.floor(next() * workers.length);
  switch (fault) {
    case "kill-worker": {
      workers[victim].kill("SIGKILL");
      await workers[victim].stop("SIGKILL");
      workers[victim] = (await startWorkers(server, 1))[0];
      return false;
    }
    case "stop-worker": {
      workers[victim].kill("SIGSTOP");
      // Past its heartbeat: the coordinator gives up what it held, then it comes back.
      const client = await server.client();
      await until(
        async () =>
          ((await client.command("KEYS", `crunch:worker:${workers[victim].name}#*`)) as [])
            .length ===
            0,
        20_000,
      );
      client.close();
      workers[victim].kill("SIGCONT");
      return false;
    }
    case "restart-redis":
      await server.kill();
      await server.restart();
      return false;
    case "pause-redis": {
      const client = await server.client();
      await client.command("CLIENT", "PAUSE", 2000, "ALL");
      client.close();
      return false;
    }
    case "flush-redis": {
      const client = await server.client();
      await client.command("FLUSHALL");
      client.close();
      return false;
    }
    case "kill-coordinator":
      command.kill("SIGKILL");
      await command.status;
      return true;
  }
}
