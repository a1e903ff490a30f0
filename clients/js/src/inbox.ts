/**
 * The async iterators over a connection's incoming messages.
 *
 * Rules:
 *
 * 1. An iterator sees every message that arrives after it was made, in order; it buffers
 *    what its reader has not taken yet (no limit: read, or `return()` to stop).
 * 2. When the connection ends, an iterator yields what it holds, then throws the error
 *    that ended the connection (once), or finishes when there was none (`close()`, or
 *    the object closed the socket normally).
 */

import type { RoostError } from "./errors.js";

/** A message from the object: text, or binary data. */
export type Incoming = string | ArrayBuffer;

interface Reader {
  readonly queue: Incoming[];
  wake: (() => void) | null;
  done: boolean;
  error: RoostError | null;
}

/** The readers of one connection. */
export class Inbox {
  private readonly readers = new Set<Reader>();
  private ended = false;
  private endError: RoostError | null = null;

  /** A new iterator over the messages from now on. */
  iterator(): AsyncIterator<Incoming> {
    const reader: Reader = { queue: [], wake: null, done: this.ended, error: this.endError };
    if (!this.ended) this.readers.add(reader);
    return {
      next: async (): Promise<IteratorResult<Incoming>> => {
        for (;;) {
          const message = reader.queue.shift();
          if (message !== undefined) return { value: message, done: false };
          if (reader.done) {
            const error = reader.error;
            reader.error = null;
            if (error !== null) throw error;
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => {
            reader.wake = resolve;
          });
        }
      },
      return: async (): Promise<IteratorResult<Incoming>> => {
        this.readers.delete(reader);
        reader.done = true;
        reader.queue.length = 0;
        reader.error = null;
        return { value: undefined, done: true };
      },
    };
  }

  /** A message arrived. */
  push(message: Incoming): void {
    for (const reader of this.readers) {
      reader.queue.push(message);
      this.wake(reader);
    }
  }

  /** The connection ended, because of `error` or normally (null). */
  end(error: RoostError | null): void {
    this.ended = true;
    this.endError = error;
    for (const reader of this.readers) {
      reader.done = true;
      reader.error = error;
      this.wake(reader);
    }
    this.readers.clear();
  }

  private wake(reader: Reader): void {
    const wake = reader.wake;
    reader.wake = null;
    wake?.();
  }
}
