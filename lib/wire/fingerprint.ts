/**
 * A cheap identity check of a file that is read in pieces over a run: its
 * size and a hash of its first bytes. A file that shrinks, or whose start
 * is rewritten, while a run reads it is noticed (a file that only grows
 * keeps the records it had when the run opened it). Both the main thread
 * and the workers that read byte ranges use it.
 *
 * @module
 */

/** Bytes at the start of the file that are hashed. */
const HEAD_BYTES = 4096;

/** What a file looked like when a run opened it. */
export interface Fingerprint {
  size: number;
  /** FNV-1a hash of its first bytes. */
  head: number;
}

/** FNV-1a, 32 bits. */
function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** The hash of the first bytes of an open file (read at offset 0; the position is kept). */
export function headHash(file: Deno.FsFile, size: number): number {
  const head = new Uint8Array(Math.min(HEAD_BYTES, size));
  const position = file.seekSync(0, Deno.SeekMode.Current);
  file.seekSync(0, Deno.SeekMode.Start);
  let n = 0;
  while (n < head.length) {
    const got = file.readSync(head.subarray(n));
    if (got === null) break;
    n += got;
  }
  file.seekSync(position, Deno.SeekMode.Start);
  return fnv1a(head.subarray(0, n));
}

/** The fingerprint of an open regular file. */
export function fingerprintOf(file: Deno.FsFile): Fingerprint {
  const size = file.statSync().size;
  return { size, head: headHash(file, size) };
}

/**
 * Why an open file is no longer what `was` describes (it shrank, or its
 * first bytes changed), or undefined when it is (or has only grown).
 */
export function changeOf(file: Deno.FsFile, was: Fingerprint): string | undefined {
  const size = file.statSync().size;
  if (size < was.size) {
    return `it shrank from ${was.size} to ${size} bytes while it was being read`;
  }
  if (headHash(file, was.size) !== was.head) {
    return "its first bytes changed while it was being read";
  }
  return undefined;
}
