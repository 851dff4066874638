/**
 * Defaults that more than the option table needs.
 *
 * @module
 */

/** The default `chunkBytes`: 512 KiB, which measured 10-15 % faster than 1 MiB on 2 workers. */
export const DEFAULT_CHUNK_BYTES = 512 << 10;

/** The default `stall`: a task whose records stop finishing for 30 s is said to be stalled. */
export const DEFAULT_STALL_MS = 30_000;
