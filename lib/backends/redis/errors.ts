/**
 * What goes wrong with Redis: an error reply, or a connection gone.
 *
 * @module
 */

import { CrunchError } from "../../errors.ts";

/** An error reply from Redis (`-ERR ...`, `-NOGROUP ...`). */
export class RedisReplyError extends CrunchError {
  /** The first word of the reply (`ERR`, `NOGROUP`, `WRONGPASS`, ...). */
  readonly code: string;
  /** `text` is the reply without its leading `-`. */
  constructor(text: string) {
    super(`redis: ${text}`);
    this.name = "RedisReplyError";
    this.code = text.split(" ", 1)[0];
  }
}

/** The connection to Redis is gone (refused, closed by the server, reset). */
export class RedisConnectionError extends CrunchError {
  /** `message` says what happened. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisConnectionError";
  }
}
