/**
 * The run report: where a run's time went, worker by worker and stage by
 * stage, what the main thread did, the slowest records and tasks, and the
 * bottleneck in one sentence. A stable schema: fields are added, never
 * changed, and `version` says which.
 *
 * @module
 */

/** Milliseconds a worker spent in each stage of its tasks. */
export interface StageSplit {
  /** Reading byte ranges of the input (workers that read their own ranges). */
  readMs: number;
  /** Decoding text and parsing records. */
  parseMs: number;
  /** In the plug-in's classify (or classifyBatch), retries' waits included. */
  classifyMs: number;
  /** Serializing results (runs with `encode`, such as the command's). */
  encodeMs: number;
  /** Handing results to the transport (a structured clone, a frame). */
  sendMs: number;
}

/** One worker's share of a run. */
export interface WorkerReport {
  /** Who it is: `worker 2`; through Redis, the crunch worker's name first. */
  worker: string;
  /** Tasks it finished. */
  tasks: number;
  /** Records of those tasks. */
  records: number;
  /** From each task's arrival to its last piece, summed. */
  busyMs: number;
  /** The run's length less its busy time: waiting for work (or for results to be taken). */
  idleMs: number;
  /** Its busy time by stage (the rest of it is the engine's own bookkeeping). */
  stages: StageSplit;
  /**
   * Starting it and loading the plug-in (with `prepare()` where it ran
   * there), ms, where the backend knows (threads and processes).
   */
  startMs?: number;
  /** The plug-in's `init` in it, ms, where the backend knows. */
  initMs?: number;
  /** Its tasks' times, ms: the median and the slowest (one slow worker stands out here). */
  taskMs?: { median: number; max: number };
}

/** The main thread's (or the coordinator's) share of a run. */
export interface MainReport {
  /** Reading the input and cutting it into tasks (for a compressed input, waiting for its decoder). */
  inputMs: number;
  /** Handing tasks to the workers. */
  dispatchMs: number;
  /** Handling what comes back: pieces, counts, releasing results in order. */
  releaseMs: number;
  /**
   * The run's length less the time the consumer of the results waited for
   * them: what the consumer (the command's output, a script's loop) took.
   */
  consumerMs: number;
}

/** A record that took long, where it is. */
export interface SlowRecord {
  /** Its input (a path or URL), when the input has a name. */
  file?: string;
  /** 0-based index of the record in its input. */
  index: number;
  /** 1-based line where it starts, for byte inputs. */
  line?: number;
  /** Its time in classify (with its retries), ms. */
  ms: number;
  /**
   * When more than 1: `ms` is the time of this many records in a row from
   * `index` on (fast records are timed in stretches, not one by one).
   */
  records?: number;
}

/** A task that took long. */
export interface SlowTask {
  /** Its input (a path or URL), when the input has a name. */
  file?: string;
  /** Index of its first record. */
  index: number;
  /** How many records it held. */
  records: number;
  /** Its worker's busy time on it, ms. */
  ms: number;
  /** Who ran it. */
  worker: string;
}

/** What limits a run, measured. */
export interface Bottleneck {
  /**
   * What the workers spent most of their time on when they were busy
   * (classify, parse, read, encode), or, when they were mostly idle, what
   * kept them waiting: the consumer of the results (output), the main
   * thread's reading (input), or a run too short to fill them (start-up).
   */
  kind: "classify" | "parse" | "read" | "encode" | "output" | "input" | "start-up";
  /** The finding in one sentence, with its figures. */
  sentence: string;
}

/** Where a run's time went. */
export interface RunReport {
  /** The schema's version. */
  version: 1;
  /** The run's length, ms: from its workers' start (their `init` done) to its end. */
  elapsedMs: number;
  /** Records read. */
  records: number;
  /** Results given. */
  results: number;
  /** Records that failed (parse or classify). */
  errors: number;
  /** Tasks run again after a worker died. */
  retries: number;
  /** Workers replaced. */
  respawns: number;
  /** Records isolated as the cause of a worker's death. */
  isolated: number;
  /** Byte ranges run again from their true start (a cut inside a quoted field). */
  reruns: number;
  /** Copies of straggling tasks raced against them on idle workers (option `speculate`). */
  speculated: number;
  /** Races a copy won (its task's first worker was the slower). */
  speculationsWon: number;
  /** Straggling tasks split among idle workers while they ran (option `speculate`). */
  splits: number;
  /** The main thread's (or coordinator's) time. */
  main: MainReport;
  /** Each worker that ran tasks, by name. */
  workers: WorkerReport[];
  /** The slowest records (at most 10), slowest first. */
  slowestRecords: SlowRecord[];
  /** The slowest tasks (at most 10), slowest first. */
  slowestTasks: SlowTask[];
  /**
   * The run's tail: ms to its first 95% of records, and from there to its
   * end (a slow worker or a slow region makes the second long).
   */
  tail?: { first95Ms: number; last5Ms: number };
  /** What limited the run, in one sentence. */
  bottleneck: Bottleneck;
}
