/**
 * SharedArrayBuffers across a transport that cannot share memory (a worker
 * process's pipe): V8's serializer refuses them, so each is replaced by a
 * marker and its bytes travel beside the message; the receiver makes a new
 * SharedArrayBuffer of them. Typed arrays and DataViews over one keep their
 * offset and length. Each process then has a copy of its own (what
 * `prepare()` shares, a SharedTable's buffer): shared by its threads, not
 * with other processes.
 *
 * @module
 */

/** The key of a marker object: no plug-in's data is expected to use it. */
const MARK = "$crunch:sharedArrayBuffer";

type Marker = {
  [MARK]: number;
  view?: string;
  byteOffset?: number;
  length?: number;
};

/** The typed array classes structured clone carries. */
export const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;

const VIEWS: Record<
  string,
  new (buffer: SharedArrayBuffer, offset: number, length: number) => unknown
> = Object.fromEntries([...TYPED_ARRAYS, DataView].map((view) => [view.name, view]));

/** True for what the walk goes into: plain objects, arrays, Maps and Sets. */
function container(value: unknown): value is object {
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with every SharedArrayBuffer (and view over one) replaced by a
 * marker, and the buffers' bytes; undefined when it holds none.
 */
export function packShared(value: unknown): { value: unknown; buffers: Uint8Array[] } | undefined {
  const buffers: SharedArrayBuffer[] = [];
  const index = (sab: SharedArrayBuffer) => {
    let at = buffers.indexOf(sab);
    if (at === -1) at = buffers.push(sab) - 1;
    return at;
  };
  const seen = new Map<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (v instanceof SharedArrayBuffer) return { [MARK]: index(v) };
    if (ArrayBuffer.isView(v) && v.buffer instanceof SharedArrayBuffer) {
      const length = v instanceof DataView ? v.byteLength : (v as Uint8Array).length;
      const view = v.constructor.name;
      return { [MARK]: index(v.buffer), view, byteOffset: v.byteOffset, length };
    }
    if (!container(v)) return v;
    if (seen.has(v)) return seen.get(v);
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      seen.set(v, out);
      for (const item of v) out.push(walk(item));
      return out;
    }
    if (v instanceof Map) {
      const out = new Map();
      seen.set(v, out);
      for (const [k, item] of v) out.set(walk(k), walk(item));
      return out;
    }
    if (v instanceof Set) {
      const out = new Set();
      seen.set(v, out);
      for (const item of v) out.add(walk(item));
      return out;
    }
    const out: Record<string, unknown> = Object.getPrototypeOf(v) === null
      ? Object.create(null)
      : {};
    seen.set(v, out);
    for (const [k, item] of Object.entries(v)) out[k] = walk(item);
    return out;
  };
  const packed = walk(value);
  if (buffers.length === 0) return undefined;
  return { value: packed, buffers: buffers.map((b) => new Uint8Array(b).slice()) };
}

/** `value` with its markers replaced by new SharedArrayBuffers (or views) holding `buffers`' bytes. */
export function unpackShared(value: unknown, buffers: Uint8Array[]): unknown {
  const made = buffers.map((bytes) => {
    const sab = new SharedArrayBuffer(bytes.length);
    new Uint8Array(sab).set(bytes);
    return sab;
  });
  const seen = new Set<object>();
  const walk = (v: unknown): unknown => {
    if (!container(v) || seen.has(v)) return v;
    const marker = v as Marker;
    if (typeof marker[MARK] === "number") {
      const sab = made[marker[MARK]];
      if (marker.view === undefined) return sab;
      return new VIEWS[marker.view](sab, marker.byteOffset!, marker.length!);
    }
    seen.add(v);
    if (Array.isArray(v)) v.forEach((item, k) => v[k] = walk(item));
    else if (v instanceof Map) {
      for (const [k, item] of [...v]) {
        v.delete(k);
        v.set(walk(k), walk(item));
      }
    } else if (v instanceof Set) {
      const items = [...v];
      v.clear();
      for (const item of items) v.add(walk(item));
    } else {
      for (const [k, item] of Object.entries(v)) (v as Record<string, unknown>)[k] = walk(item);
    }
    return v;
  };
  return walk(value);
}
