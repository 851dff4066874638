/**
 * Which version of an object behind a URL a run reads: its size, `ETag` and
 * `Last-Modified` as the first response gave them. Every later response (a
 * worker's byte range, the main thread's re-read) is checked against it, so
 * an object replaced during a run is an error, never a mix of two versions.
 *
 * @module
 */

/** An object's version, as a server described it. */
export interface ObjectVersion {
  /** Its size in bytes, when the server said. */
  size?: number;
  /** Its `ETag` header, when it had one. */
  etag?: string;
  /** Its `Last-Modified` header, when it had one. */
  modified?: string;
}

/** The size a `Content-Range: bytes a-b/size` header gives, if any. */
export function totalOf(contentRange: string | null): number | undefined {
  const match = contentRange?.match(/\/(\d+)\s*$/);
  return match ? Number(match[1]) : undefined;
}

/** The version `headers` describe; `size` when the caller knows it from elsewhere. */
export function versionOf(headers: Headers, size?: number): ObjectVersion {
  return {
    size: totalOf(headers.get("content-range")) ?? size,
    etag: headers.get("etag") ?? undefined,
    modified: headers.get("last-modified") ?? undefined,
  };
}

/** Why the object that answered with `headers` is not the version `was`, if it is not. */
export function versionChange(was: ObjectVersion, headers: Headers): string | undefined {
  const now = versionOf(headers);
  if (was.etag !== undefined && now.etag !== undefined && now.etag !== was.etag) {
    return `it changed while it was being read (ETag ${was.etag}, now ${now.etag})`;
  }
  if (was.size !== undefined && now.size !== undefined && now.size !== was.size) {
    return `it changed while it was being read (${was.size} bytes, now ${now.size})`;
  }
  if (
    was.etag === undefined && was.modified !== undefined && now.modified !== undefined &&
    now.modified !== was.modified
  ) {
    return `it changed while it was being read (Last-Modified ${was.modified}, now ${now.modified})`;
  }
  return undefined;
}
