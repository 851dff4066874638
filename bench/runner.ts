/**
 * The bench's way of timing things so that both sides of a ratio meet the
 * same machine noise: every contender (crunch in this process, a baseline or
 * a peer in a child process) does one timed run on request, and a round asks
 * each in turn, in an order that rotates from round to round.
 *
 * @module
 */

import { type Spread, spread } from "./stats.ts";

/** Something that can do one timed run over the data on request. */
export interface Contender {
  label: string;
  /** One run; resolves with the records it handled and the seconds it took. */
  run(): Promise<Timing>;
  /** Frees what it holds. */
  close?(): Promise<void>;
}

/** One timed run. */
export interface Timing {
  records: number;
  seconds: number;
}

/** Times `run` in this process. */
export function inProcess(label: string, run: () => Promise<number>): Contender {
  return {
    label,
    async run() {
      const started = performance.now();
      const records = await run();
      return { records, seconds: (performance.now() - started) / 1000 };
    },
  };
}

/**
 * A child process that prints one line once it is ready (initialised and
 * warmed up), then for each newline it reads on stdin times one run and
 * prints `{"records": n, "seconds": s}` on a line of its own.
 */
export class ChildRunner implements Contender {
  readonly label: string;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;

  private constructor(label: string, child: Deno.ChildProcess) {
    this.label = label;
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines(child.stdout);
  }

  /** Starts `command args` and waits for its ready line. */
  static async start(
    label: string,
    command: string,
    args: string[],
    env?: Record<string, string>,
  ): Promise<ChildRunner> {
    const child = new Deno.Command(command, {
      args,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const runner = new ChildRunner(label, child);
    const ready = await runner.#lines.next();
    if (ready.done) throw new Error(`${label}: the child process ended before it was ready`);
    return runner;
  }

  async run(): Promise<Timing> {
    await this.#writer.write(new TextEncoder().encode("\n"));
    const { value, done } = await this.#lines.next();
    if (done) throw new Error(`${this.label}: the child process ended`);
    const { records, seconds } = JSON.parse(value);
    return { records, seconds };
  }

  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#child.status;
  }
}

/** The lines of a byte stream. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    rest += text;
    for (let nl = rest.indexOf("\n"); nl !== -1; nl = rest.indexOf("\n")) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
}

/** Every contender's timings over the rounds, in the order they were given. */
export interface RoundResult {
  label: string;
  records: number;
  /** Seconds of each round. */
  seconds: number[];
  /** Records per second over the rounds. */
  rate: Spread;
}

/**
 * One untimed warm-up run of each contender, then `reps` rounds in which each
 * runs once, the order rotating by one every round.
 */
export async function rounds(
  contenders: Contender[],
  reps: number,
  log: (line: string) => void = () => {},
): Promise<RoundResult[]> {
  const results: RoundResult[] = contenders.map((c) => ({
    label: c.label,
    records: 0,
    seconds: [],
    rate: spread([0]),
  }));
  for (const c of contenders) await c.run();
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const at = (k + r) % contenders.length;
      const timing = await contenders[at].run();
      results[at].records = timing.records;
      results[at].seconds.push(timing.seconds);
    }
  }
  for (const result of results) {
    result.rate = spread(result.seconds.map((s) => result.records / s));
    log(
      `${result.label}: ${result.records} records, median ${
        spread(result.seconds).median.toFixed(3)
      } s`,
    );
  }
  return results;
}

/** The ratio `a / b` of two contenders' rates, round by round: median, min and max. */
export function ratioOf(a: RoundResult, b: RoundResult): Spread {
  return spread(a.seconds.map((s, r) => (a.records / s) / (b.records / b.seconds[r])));
}
