/**
 * A real redis-server on a loopback port of its own, and real `crunch worker`
 * processes, for the tests of the Redis backend. Where redis-server is not
 * installed, {@linkcode HAVE_REDIS} is false and those tests are ignored,
 * saying so.
 */

import { RedisClient } from "../lib/backends/redis/client.ts";
import { CLI } from "./helpers.ts";

function found(): boolean {
  try {
    const { success } = new Deno.Command("redis-server", { args: ["--version"], stdout: "null" })
      .outputSync();
    return success;
  } catch {
    return false;
  }
}

/** True where `redis-server` can be run. */
export const HAVE_REDIS = found();
if (!HAVE_REDIS) {
  console.error("redis-server is not installed: the tests of the Redis backend are ignored");
}

let nextPort = 16_400 + (Deno.pid % 500) * 8;

/** A redis-server process without persistence, stopped by `stop()`. */
export class RedisServer {
  readonly port: number;
  readonly args: string[];
  readonly tls: boolean;
  #child: Deno.ChildProcess | undefined;

  private constructor(port: number, args: string[], tls: boolean) {
    this.port = port;
    this.args = args;
    this.tls = tls;
  }

  /**
   * Starts one on a port of its own; `args` are more redis-server options;
   * with `tls` the port speaks TLS only (the certificates in `args`).
   */
  static async start(args: string[] = [], tls = false): Promise<RedisServer> {
    const server = new RedisServer(nextPort++, args, tls);
    await server.restart();
    return server;
  }

  /** The URL to reach it, with `auth` (`user:password@` or `:password@`) if given. */
  url(auth = ""): string {
    return `${this.tls ? "rediss" : "redis"}://${auth}127.0.0.1:${this.port}`;
  }

  /** Starts it (again, empty: nothing is saved), and waits until it answers. */
  async restart(): Promise<void> {
    this.#child = new Deno.Command("redis-server", {
      args: [
        ...(this.tls ? ["--port", "0", "--tls-port"] : ["--port"]),
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        ...this.args,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const until = performance.now() + 10_000;
    for (;;) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        conn.close();
        return;
      } catch (error) {
        if (performance.now() > until) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /** Kills it with SIGKILL (its data is lost) and waits for it to end. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // ended
    }
    await child.status;
  }

  /** A client of it (the tests' own view of Redis). */
  client(auth = ""): Promise<RedisClient> {
    return RedisClient.connect(this.url(auth));
  }

  stop(): Promise<void> {
    return this.kill();
  }
}

/** A `crunch worker` process. */
export class WorkerProcess {
  readonly name: string;
  readonly #child: Deno.ChildProcess;
  readonly #stderr: Promise<string>;

  constructor(url: string, name: string, args: string[] = [], env: Record<string, string> = {}) {
    this.name = name;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "worker", "--redis", url, "--name", name, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.#stderr = new Response(this.#child.stderr).text();
  }

  /** Sends `signal`; `stop()` then waits. */
  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // ended
    }
  }

  /** Waits for it to end (killing it after `ms`); resolves with its exit code and stderr. */
  async stop(signal: Deno.Signal = "SIGTERM", ms = 20_000): Promise<{ code: number; log: string }> {
    this.kill(signal);
    const timer = setTimeout(() => this.kill("SIGKILL"), ms);
    const status = await this.#child.status;
    clearTimeout(timer);
    return { code: status.code, log: await this.#stderr };
  }
}

/** Starts `count` worker processes named `w0`, `w1`, ... and waits until each has a heartbeat. */
export async function startWorkers(
  server: RedisServer,
  count: number,
  args: string[] = [],
  auth = "",
  env: Record<string, string> = {},
): Promise<WorkerProcess[]> {
  const workers = Array.from(
    { length: count },
    (_, i) => new WorkerProcess(server.url(auth), `w${i}`, ["--heartbeat", "1000", ...args], env),
  );
  const client = await server.client(auth);
  try {
    const until = performance.now() + 30_000;
    for (const worker of workers) {
      // Each start of a worker is an incarnation of its name: name#id.
      while (
        ((await client.command("KEYS", `crunch:worker:${worker.name}#*`)) as unknown[]).length === 0
      ) {
        if (performance.now() > until) throw new Error(`${worker.name} did not start`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } finally {
    client.close();
  }
  return workers;
}

/** A Redis Cluster of `size` primaries (no replicas) on loopback ports of their own. */
export class RedisCluster {
  readonly nodes: RedisServer[];

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  /** Starts the nodes, joins them with `redis-cli --cluster create`, and waits until it is ok. */
  static async start(size = 3): Promise<RedisCluster> {
    const dir = await Deno.makeTempDir({ prefix: "crunch-cluster-" });
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < size; i++) {
        nodes.push(
          await RedisServer.start([
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            `${dir}/nodes-${i}.conf`,
            "--cluster-node-timeout",
            "5000",
          ]),
        );
      }
      const created = await new Deno.Command("redis-cli", {
        args: [
          "--cluster",
          "create",
          ...nodes.map((n) => `127.0.0.1:${n.port}`),
          "--cluster-replicas",
          "0",
          "--cluster-yes",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!created.success) {
        throw new Error(`redis-cli --cluster create: ${new TextDecoder().decode(created.stderr)}`);
      }
      // Every node agrees that every slot is served (bounded: 30 s).
      const until = performance.now() + 30_000;
      for (const node of nodes) {
        const client = await node.client();
        try {
          for (;;) {
            const info = new TextDecoder().decode(
              await client.command("CLUSTER", "INFO") as Uint8Array,
            );
            if (/cluster_state:ok/.test(info)) break;
            if (performance.now() > until) throw new Error(`the cluster never became ok: ${info}`);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        } finally {
          client.close();
        }
      }
    } catch (error) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw error;
    }
    return new RedisCluster(nodes);
  }

  /** Stops every node. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
