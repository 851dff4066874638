/**
 * A cheap identity check of a file that is read in pieces over a run: its
 * size, hashes of its first bytes and of the last bytes it had, and (on the
 * machine that opened it) its device, inode and modification time. A file
 * that shrinks, is replaced by another (a copy renamed over it, whatever its
 * first bytes), or is rewritten in place while a run reads it is noticed; a
 * file that only grows keeps the records it had when the run opened it. The
 * main thread, the workers that read byte ranges and `crunch worker`s
 * elsewhere (which check the content alone: their copy is another inode)
 * all use it.
 *
 * @module
 */

/** Bytes at each end of the file that are hashed. */
const EDGE_BYTES = 4096;

/** What a file looked like when a run opened it. */
export interface Fingerprint {
  size: number;
  /** FNV-1a hash of its first bytes. */
  head: number;
  /** FNV-1a hash of the last bytes it had (before `size`). */
  tail?: number;
  /** The machine it was opened on, with the file's device, inode and modification time there. */
  host?: string;
  dev?: number;
  ino?: number;
  mtime?: number;
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

/** The hash of `length` bytes of an open file from `at` (the position is kept). */
function hashAt(file: Deno.FsFile, at: number, length: number): number {
  const bytes = new Uint8Array(Math.max(0, length));
  const position = file.seekSync(0, Deno.SeekMode.Current);
  file.seekSync(at, Deno.SeekMode.Start);
  let n = 0;
  while (n < bytes.length) {
    const got = file.readSync(bytes.subarray(n));
    if (got === null) break;
    n += got;
  }
  file.seekSync(position, Deno.SeekMode.Start);
  return fnv1a(bytes.subarray(0, n));
}

/** The hash of the first bytes of an open file of `size` bytes. */
export function headHash(file: Deno.FsFile, size: number): number {
  return hashAt(file, 0, Math.min(EDGE_BYTES, size));
}

/** The hash of the last bytes before `size` of an open file. */
function tailHash(file: Deno.FsFile, size: number): number {
  const length = Math.min(EDGE_BYTES, size);
  return hashAt(file, size - length, length);
}

/** This machine's name, where it may be read. */
function host(): string | undefined {
  try {
    return Deno.hostname();
  } catch {
    return undefined;
  }
}

/** The fingerprint of an open regular file. */
export function fingerprintOf(file: Deno.FsFile): Fingerprint {
  const info = file.statSync();
  const size = info.size;
  return {
    size,
    head: headHash(file, size),
    tail: tailHash(file, size),
    host: host(),
    dev: info.dev,
    ino: info.ino ?? undefined,
    mtime: info.mtime?.getTime(),
  };
}

/**
 * Why an open file is no longer what `was` describes (it shrank, was
 * replaced, or its bytes were rewritten), or undefined when it is (or has
 * only grown).
 */
export function changeOf(file: Deno.FsFile, was: Fingerprint): string | undefined {
  const info = file.statSync();
  const size = info.size;
  if (size < was.size) {
    return `it shrank from ${was.size} to ${size} bytes while it was being read`;
  }
  const here = was.host !== undefined && was.host === host();
  if (here && was.ino !== undefined && (info.ino !== was.ino || info.dev !== was.dev)) {
    return "it was replaced by another file (a new inode) while it was being read";
  }
  if (headHash(file, was.size) !== was.head) {
    return "its first bytes changed while it was being read";
  }
  const modified = here && was.mtime !== undefined && info.mtime?.getTime() !== was.mtime;
  if (modified && size === was.size) {
    return "it was rewritten (same size, a new modification time) while it was being read";
  }
  if (was.tail !== undefined && (modified || !here) && tailHash(file, was.size) !== was.tail) {
    return "its bytes changed while it was being read";
  }
  return undefined;
}
