/**
 * The bottleneck of a run in one sentence, derived from its measured split:
 * how busy its workers were, where their busy time went, and what the main
 * thread and the consumer of the results did while the workers idled.
 *
 * @module
 */

import type { Bottleneck, RunReport } from "../report.ts";

/** Workers busier than this are the limit; below it, what kept them idle is. */
const BUSY = 0.7;

const percent = (share: number) => `${Math.round(share * 100)}%`;

/** What limits the run `report` describes, on `workers` workers. */
export function bottleneckOf(report: Omit<RunReport, "bottleneck">, workers: number): Bottleneck {
  const wall = Math.max(1, report.elapsedMs);
  const busy = report.workers.reduce((sum, w) => sum + w.busyMs, 0);
  const busyShare = Math.min(1, busy / (wall * Math.max(1, workers)));
  const idle = percent(1 - busyShare);
  const { main } = report;
  if (busy > 0 && busyShare >= BUSY) {
    const stages = report.workers.reduce(
      (sum, w) => ({
        classify: sum.classify + w.stages.classifyMs,
        parse: sum.parse + w.stages.parseMs,
        read: sum.read + w.stages.readMs,
        encode: sum.encode + w.stages.encodeMs + w.stages.sendMs,
      }),
      { classify: 0, parse: 0, read: 0, encode: 0 },
    );
    const [kind, ms] = Object.entries(stages).sort((a, b) => b[1] - a[1])[0] as [
      "classify" | "parse" | "read" | "encode",
      number,
    ];
    const share = percent(ms / busy);
    const more = "more workers (or cores) would help";
    const sentence = {
      classify: `classify-bound: ${share} of worker time in classify; ${more}`,
      parse: `parse-bound: ${share} of worker time parsing records; ${more}`,
      read: `input-bound: ${share} of worker time reading the input's byte ranges; ` +
        "faster storage (or a server nearer) would help more than workers",
      encode: `encode-bound: ${share} of worker time encoding and sending results; ${more}`,
    }[kind];
    return { kind, sentence };
  }
  const consumer = main.consumerMs / wall;
  const input = main.inputMs / wall;
  if (consumer > 0.5 && consumer >= input) {
    return {
      kind: "output",
      sentence: `output-bound: workers idle ${idle} of the time while the consumer of the ` +
        `results (the output) took ${percent(consumer)} of the run; a faster consumer would help`,
    };
  }
  if (input > 0.5) {
    return {
      kind: "input",
      sentence: `input-bound: workers idle ${idle} of the time while the main thread read and ` +
        `cut the input (${percent(input)} of the run); decompressed or local input would help`,
    };
  }
  return {
    kind: "start-up",
    sentence: `start-up-bound: workers idle ${idle} of the time; the run (${
      (wall / 1000).toFixed(2)
    } s) is too short, or has too few tasks, to keep ${workers} workers busy`,
  };
}
