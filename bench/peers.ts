/**
 * Finding the peers' runtimes (Node with Piscina, Python) for the bench, and
 * installing Piscina and d3-dsv for Node into .cache/peers once. A peer whose
 * runtime is missing is skipped, and the report says so.
 *
 * @module
 */

import type { Peers } from "./context.ts";
import { exists } from "./context.ts";

const PISCINA = "piscina@5.3.2";
const D3_DSV = "d3-dsv@3.0.2";

async function succeeds(command: string, args: string[], cwd?: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(command, { args, cwd, stdout: "null", stderr: "piped" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/** The peers this machine can run; installs the npm packages Piscina's runner needs. */
export async function findPeers(cache: string, log: (line: string) => void): Promise<Peers> {
  const peers: Peers = {};
  if (await succeeds("python3", ["-c", "import multiprocessing, csv, json"])) {
    peers.python = "python3";
  } else log("python3 not found: Python's Pool is skipped");
  const dir = `${cache}peers`;
  if (!(await succeeds("node", ["--version"]))) {
    log("node not found: Piscina is skipped");
    return peers;
  }
  if (
    !(await exists(`${dir}/node_modules/piscina`)) || !(await exists(`${dir}/node_modules/d3-dsv`))
  ) {
    await Deno.mkdir(dir, { recursive: true });
    log(`installing ${PISCINA} and ${D3_DSV} into ${dir}`);
    const args = ["install", "--no-audit", "--no-fund", "--silent", PISCINA, D3_DSV];
    if (!(await succeeds("npm", args, dir))) {
      log("npm could not install Piscina: it is skipped");
      return peers;
    }
  }
  peers.piscina = dir;
  return peers;
}
