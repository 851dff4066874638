/**
 * The objects an `s3://bucket/prefix/` or an `s3://bucket/prefix/*.csv.gz`
 * names, listed with ListObjectsV2 (page after page), sorted by key as the
 * files of a directory are. A prefix lists every object under it, in its
 * sub-prefixes too (S3 has no folders); a glob matches keys as `glob()`
 * matches paths (`*` within a segment, `**` across).
 *
 * @module
 */

import { matchesGlob } from "node:path";
import type { RemoteClient } from "./client.ts";
import { s3Parts, s3Region, s3Url } from "./location.ts";

const GLOB = /[*?[{]/;

/** Whether `name` (an s3 URL) names many objects: a prefix (ends with /) or a glob. */
export function isS3Many(name: string): boolean {
  if (!/^s3:/i.test(name)) return false;
  const { key } = s3Parts(name);
  return key === "" || key.endsWith("/") || GLOB.test(key);
}

/** The text of an XML element's content, entities decoded. */
function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" };
    if (e[0] !== "#") return named[e.toLowerCase()];
    return String.fromCodePoint(
      e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : +e.slice(1),
    );
  });
}

/** The `s3://` names of the objects `name` (a prefix or a glob) names, sorted; none is []. */
export async function listS3(name: string, client: RemoteClient): Promise<string[]> {
  const { bucket, key } = s3Parts(name);
  const glob = GLOB.exec(key);
  const prefix = glob ? key.slice(0, key.lastIndexOf("/", glob.index) + 1) : key;
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const url = s3Url(bucket, "");
    url.searchParams.set("list-type", "2");
    if (prefix) url.searchParams.set("prefix", prefix);
    if (token) url.searchParams.set("continuation-token", token);
    const object = { name, url, s3: { bucket, key: "", region: s3Region() } };
    const { response, done } = await client.open(object);
    let text: string;
    try {
      text = await response.text();
    } finally {
      done();
    }
    for (const match of text.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
      const found = match[1].match(/<Key>([\s\S]*?)<\/Key>/);
      if (found) keys.push(unescapeXml(found[1]));
    }
    const truncated = /<IsTruncated>true<\/IsTruncated>/.test(text);
    const next = text.match(/<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/);
    token = truncated && next ? unescapeXml(next[1]) : undefined;
  } while (token !== undefined);
  const chosen = keys.filter((k) => !k.endsWith("/") && (!glob || matchesGlob(k, key)));
  return chosen.sort().map((k) => `s3://${bucket}/${k}`);
}
