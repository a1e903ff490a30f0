/**
 * The async iterators over a connection's incoming messages (and over a subscription's
 * changes: the same rules).
 *
 * Rules:
 *
 * 1. An iterator sees every message that arrives after it was made, in order; it buffers
 *    what its reader has not taken yet (no limit: read, or `return()` to stop).
 * 2. When the connection ends, an iterator yields what it holds, then throws the error
 *    that ended the connection (once), or finishes when there was none (`close()`, or
 *    the object closed the socket normally).
 * 3. An inbox made with `hold` (a subscription's) also keeps what arrives before its
 *    first iterator, for that iterator, until `release()` (someone reads the messages
 *    another way: events). So nothing is lost to a reader that starts late.
 */

import type { RoostError } from "./errors.js";

/** A message from the object: text, or binary data. */
export type Incoming = string | ArrayBuffer;

interface Reader<T> {
  readonly queue: T[];
  wake: (() => void) | null;
  done: boolean;
  error: RoostError | null;
}

/** The readers of one connection (or subscription); `T` is what they read (never undefined). */
export class Inbox<T = Incoming> {
  private readonly readers = new Set<Reader<T>>();
  private ended = false;
  private endError: RoostError | null = null;
  /** What arrived before the first iterator, kept for it (rule 3); null when not kept. */
  private held: T[] | null;

  constructor(hold = false) {
    this.held = hold ? [] : null;
  }

  /** Keep nothing more for a first iterator, and drop what was kept (rule 3). */
  release(): void {
    this.held = null;
  }

  /** A new iterator over the messages from now on (the first one: and what was held). */
  iterator(): AsyncIterator<T> {
    const queue = this.held ?? [];
    this.held = null;
    const reader: Reader<T> = { queue, wake: null, done: this.ended, error: this.endError };
    if (!this.ended) this.readers.add(reader);
    return {
      next: async (): Promise<IteratorResult<T>> => {
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
      return: async (): Promise<IteratorResult<T>> => {
        this.readers.delete(reader);
        reader.done = true;
        reader.queue.length = 0;
        reader.error = null;
        return { value: undefined, done: true };
      },
    };
  }

  /** A message arrived. */
  push(message: T): void {
    this.held?.push(message);
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

  private wake(reader: Reader<T>): void {
    const wake = reader.wake;
    reader.wake = null;
    wake?.();
  }
}
