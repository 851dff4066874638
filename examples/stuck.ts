/**
 * A classifier that waits on a server which never answers one request:
 * the review whose id is `spec.stuck` waits forever. README's stall example
 * runs it.
 *
 * @module
 */

let stuck = "";

/** Which review's request never comes back. */
export function init(spec: { stuck?: string }): void {
  stuck = spec?.stuck ?? "";
}

/** The review's id and length, after an answer that, for one review, never comes. */
export async function classify(
  row: { id: string; text: string },
): Promise<{ id: string; length: number }> {
  if (row.id === stuck) await new Promise(() => {}); // the request that is never answered
  return { id: row.id, length: row.text.length };
}
