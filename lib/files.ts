/**
 * Many files as one input: paths, globs and directories, expanded in a
 * fixed order.
 *
 * @module
 */

import { glob } from "node:fs/promises";
import { InputError } from "./errors.ts";
import { RemoteClient } from "./remote/client.ts";
import { isRemote, shown } from "./remote/location.ts";
import { isS3Many, listS3 } from "./remote/listing.ts";

/**
 * Several files as one input, made by {@linkcode files}. Each file keeps its
 * own header and format (told by its extension, or the `format` option);
 * tagged results and errors say which file a record came from.
 */
export class Files {
  /** The paths, globs and directories, as given. */
  readonly patterns: readonly string[];

  /** Use {@linkcode files} to make one. */
  constructor(patterns: readonly string[]) {
    this.patterns = patterns;
  }
}

/**
 * An input of many files: paths, globs (`data/*.csv.gz`, `logs/**\/*.ndjson`)
 * and directories (their files, sorted; not their subdirectories, nor names
 * that start with a dot), read one after another by the same workers, in the
 * order given (each glob's or directory's files sorted by name). URLs too:
 * `https://...` as they are, `s3://bucket/prefix/` (every object under it,
 * sorted) and `s3://bucket/prefix/*.csv.gz` (a glob over its keys). A file
 * that does not exist, or a glob that matches nothing, is an `InputError`
 * before any record is read. A plain array of strings stays an input of rows.
 *
 * @example
 * ```ts
 * import { classify, files } from "@crunch/crunch";
 * import assert from "node:assert/strict";
 *
 * // The glob names reviews.csv again: each file is read once.
 * const results = classify("examples/hits.ts", files("examples/reviews.csv", "examples/*.csv"), {
 *   spec: { words: ["good"] },
 *   tagged: true,
 *   ordered: true,
 * });
 * const found = [];
 * for await (const r of results) found.push([r.file, r.index, r.result]);
 * assert.deepEqual(found, [
 *   ["examples/reviews.csv", 0, { id: "1", hits: 1 }],
 *   ["examples/reviews.csv", 2, { id: "3", hits: 1 }],
 * ]);
 * ```
 */
export function files(...patterns: (string | URL)[]): Files {
  if (patterns.length === 0) {
    throw new TypeError("files() needs at least one path, glob or directory");
  }
  return new Files(
    patterns.map((p) =>
      !(p instanceof URL) ? p : p.protocol === "file:" ? decodeURIComponent(p.pathname) : p.href
    ),
  );
}

const GLOB = /[*?[{]/;

/** What a path leads to; an InputError for a link that loops or leads nowhere. */
async function statOf(path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    const loop = /too many levels of symbolic links|os error 40/i.test((error as Error).message);
    if (loop) throw new InputError(path, "a symbolic link that loops", { cause: error });
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(path, "a symbolic link to nothing (its target is gone)", {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * The objects a URL names: itself, or for an `s3://` prefix or glob, the
 * objects listed under it (an http server has no listing).
 */
async function remoteNames(pattern: string, client: RemoteClient): Promise<string[]> {
  if (!isS3Many(pattern)) return [pattern];
  let names: string[];
  try {
    names = await listS3(pattern, client);
  } catch (error) {
    throw new InputError(shown(pattern), `it could not be listed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (names.length === 0) {
    const what = pattern.endsWith("/") ? "no object is under this prefix" : "no object matches";
    throw new InputError(pattern, what);
  }
  return names;
}

/** The files `patterns` name, in order, each once; URLs as they are, S3 prefixes listed. */
export async function expandFiles(patterns: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  let client: RemoteClient | undefined;
  const add = (path: string) => {
    if (!seen.has(path)) {
      seen.add(path);
      out.push(path);
    }
  };
  for (const pattern of patterns) {
    if (isRemote(pattern)) {
      for (const name of await remoteNames(pattern, client ??= new RemoteClient())) add(name);
      continue;
    }
    if (GLOB.test(pattern)) {
      const matched: string[] = [];
      for await (const path of glob(pattern)) matched.push(path);
      const regular: string[] = [];
      for (const path of matched.sort()) {
        if ((await statOf(path)).isFile) regular.push(path);
      }
      if (regular.length === 0) throw new InputError(pattern, "no file matches this pattern");
      regular.forEach(add);
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(pattern);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new InputError(pattern, "no such file");
      throw error;
    }
    if (!info.isDirectory) {
      add(pattern);
      continue;
    }
    const inside: string[] = [];
    for await (const entry of Deno.readDir(pattern)) {
      if (entry.name.startsWith(".")) continue;
      const path = `${pattern.replace(/\/+$/, "")}/${entry.name}`;
      if (entry.isFile || (entry.isSymlink && (await statOf(path)).isFile)) inside.push(path);
    }
    if (inside.length === 0) throw new InputError(pattern, "the directory holds no files");
    inside.sort().forEach(add);
  }
  return out;
}
