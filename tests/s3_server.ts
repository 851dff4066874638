/**
 * An S3-compatible server (s3rver, from npm) for the tests, run as a
 * process of its own: `deno run -A tests/s3_server.ts <folder> <bucket>`
 * serves a bucket kept in <folder> on a free loopback port, and prints
 * `port <n>` once it listens. Its access key and secret are both `S3RVER`.
 */

import S3rver from "s3rver";

const [directory, bucket] = Deno.args;
const server = new S3rver({
  port: 0,
  address: "127.0.0.1",
  silent: true,
  directory,
  configureBuckets: [{ name: bucket, configs: [] }],
});
const { port } = await server.run();
console.log(`port ${port}`);
