// A Piscina task for the bench (Node): one batch of records, parsed and
// classified by node_task.mjs; the lexicon is built once per thread, when the
// thread loads this module.
import { workerData } from "node:worker_threads";
import { makeTask } from "./node_task.mjs";

export default await makeTask(workerData);
