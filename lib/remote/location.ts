/**
 * Where an object behind a URL is: `http://` and `https://` as they are,
 * `s3://bucket/key` at the endpoint the standard environment names
 * (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, path-style, for MinIO, R2,
 * Ceph and other S3-compatible stores; else AWS in `AWS_REGION`). Each
 * machine resolves an `s3://` name with its own environment, so a task
 * carries the name, never an endpoint or a credential.
 *
 * @module
 */

/** Names an input as an object behind a URL rather than a file path. */
const REMOTE = /^(https?|s3):\/\//i;

/** Whether `name` is a URL crunch reads over the network (http, https, s3). */
export function isRemote(name: string): boolean {
  return REMOTE.test(name);
}

/** An object to read by URL. */
export interface RemoteObject {
  /** The name as given (`s3://bucket/key` or the http URL), for messages. */
  name: string;
  /** What is fetched. */
  url: URL;
  /** An S3 object: requests are signed when credentials are set. */
  s3?: { bucket: string; key: string; region: string };
}

/** A variable of the environment, or undefined where it is unset or may not be read. */
export function envValue(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** The region requests are signed for. */
export function s3Region(): string {
  return envValue("AWS_REGION") ?? envValue("AWS_DEFAULT_REGION") ?? "us-east-1";
}

/** A bucket and key (or prefix) from `s3://bucket/key`. */
export function s3Parts(name: string): { bucket: string; key: string } {
  const rest = name.replace(/^s3:\/\//i, "");
  const slash = rest.indexOf("/");
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  if (bucket === "") throw new TypeError(`${name} names no bucket: write s3://bucket/key`);
  return { bucket, key: slash === -1 ? "" : rest.slice(slash + 1) };
}

/** The URL of `key` in `bucket` (an empty key: the bucket itself, for listing). */
export function s3Url(bucket: string, key: string): URL {
  const path = key.split("/").map(encodeURIComponent).join("/");
  const endpoint = envValue("AWS_ENDPOINT_URL_S3") ?? envValue("AWS_ENDPOINT_URL");
  if (endpoint !== undefined) {
    return new URL(`${endpoint.replace(/\/+$/, "")}/${encodeURIComponent(bucket)}/${path}`);
  }
  return new URL(`https://${bucket}.s3.${s3Region()}.amazonaws.com/${path}`);
}

/** The object `name` (an http, https or s3 URL) names. */
export function remoteObject(name: string): RemoteObject {
  if (/^s3:/i.test(name)) {
    const { bucket, key } = s3Parts(name);
    if (key === "" || key.endsWith("/")) {
      throw new TypeError(`${name} names a prefix, not an object: pass it to files()`);
    }
    return { name, url: s3Url(bucket, key), s3: { bucket, key, region: s3Region() } };
  }
  return { name, url: new URL(name) };
}

/** `name` with any password or query string signature masked, for messages and logs. */
export function shown(name: string): string {
  if (!/^https?:/i.test(name)) return name;
  try {
    const url = new URL(name);
    if (url.password) url.password = "***";
    for (const key of [...url.searchParams.keys()]) {
      if (/signature|credential|token|key|sig/i.test(key)) url.searchParams.set(key, "***");
    }
    return url.href;
  } catch {
    return name;
  }
}
