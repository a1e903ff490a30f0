/**
 * The outbox of one logical connection: what the hub has not acknowledged yet (SPEC §5).
 * Pure: it never touches a socket.
 *
 * Rules:
 *
 * 1. Exactly-once entries get ids 1, 2, 3, ... in the order they are added, per session
 *    (SPEC §4.2); they stay until `settle(id)` (an `ack` or an `error` with that id).
 * 2. At-most-once entries (binary frames, messages without id, calls) wait only until
 *    they are written once: `replay` hands them out and drops them.
 * 3. `replay` hands out every entry in the order it was added, so after a reconnect the
 *    unacknowledged messages go out in id order, before newer ones (SPEC §5.1).
 * 4. At most `limit` entries wait (partysocket's `maxEnqueuedMessages`); one more is
 *    refused with `BufferFull`, never dropped silently.
 */

import { BufferFull } from "./errors.js";
import { MAX_ID } from "./frames.js";

/** One waiting frame: `id` is set for exactly-once messages and null otherwise. */
export interface Entry<T> {
  readonly id: number | null;
  readonly payload: T;
}

/** `limit`, or `RangeError` if it is not a number from 1 (rule 4; `maxEnqueuedMessages`). */
export function outboxLimit(limit: number): number {
  if (typeof limit !== "number" || Number.isNaN(limit) || limit < 1) {
    throw new RangeError(`maxEnqueuedMessages must be at least 1, got ${String(limit)}`);
  }
  return limit;
}

/** Ordered, bounded store of frames the hub has not acknowledged (or not seen) yet. */
export class Outbox<T> {
  readonly limit: number;
  private readonly entries = new Set<Entry<T>>();
  private readonly byId = new Map<number, Entry<T>>();
  private lastId = 0;

  constructor(limit: number = Number.POSITIVE_INFINITY) {
    this.limit = outboxLimit(limit);
  }

  /** How many entries wait (unacknowledged plus not yet written). */
  get size(): number {
    return this.entries.size;
  }

  /** How many exactly-once messages wait for their `ack`. */
  get unacknowledged(): number {
    return this.byId.size;
  }

  /** The smallest id not acknowledged yet, or Infinity if every message is. */
  get oldestId(): number {
    if (this.byId.size === 0) return Number.POSITIVE_INFINITY;
    for (const entry of this.entries) if (entry.id !== null) return entry.id;
    return Number.POSITIVE_INFINITY;
  }

  /** The id the next exactly-once entry gets. */
  get nextId(): number {
    return this.lastId + 1;
  }

  /** Throw `BufferFull` if one more entry would go over the limit. */
  ensureRoom(): void {
    if (this.entries.size >= this.limit) {
      throw new BufferFull(
        `too many messages waiting for the hub: ${this.entries.size}, ` +
          `expected at most ${this.limit} (maxEnqueuedMessages)`,
      );
    }
  }

  /**
   * Add an entry at the end; exactly-once entries get the next id (`makePayload` receives
   * it, or null). Throws `BufferFull` at the limit, and nothing is added.
   */
  add(exactlyOnce: boolean, makePayload: (id: number | null) => T): Entry<T> {
    this.ensureRoom();
    if (exactlyOnce && this.lastId >= MAX_ID) {
      throw new RangeError(`message ids of this session are used up (${MAX_ID})`);
    }
    const id = exactlyOnce ? this.lastId + 1 : null;
    const entry: Entry<T> = { id, payload: makePayload(id) };
    if (id !== null) {
      this.lastId = id;
      this.byId.set(id, entry);
    }
    this.entries.add(entry);
    return entry;
  }

  /** The hub acknowledged (or answered with an error) message `id`: drop and return it. */
  settle(id: number): Entry<T> | undefined {
    const entry = this.byId.get(id);
    if (entry === undefined) return undefined; // a duplicate ack of a resent message
    this.byId.delete(id);
    this.entries.delete(entry);
    return entry;
  }

  /** Drop an entry that is no longer wanted (a call that timed out before it was written). */
  remove(entry: Entry<T>): boolean {
    if (entry.id !== null) this.byId.delete(entry.id);
    return this.entries.delete(entry);
  }

  /**
   * Hand every entry to `write`, in order. At-most-once entries are dropped as they are
   * handed out; exactly-once ones stay until settled. Stops early (keeping the rest) if
   * `write` returns false: the socket went away meanwhile.
   */
  replay(write: (entry: Entry<T>) => boolean): void {
    for (const entry of [...this.entries]) {
      if (!this.entries.has(entry)) continue; // settled or removed by a callback meanwhile
      if (!write(entry)) return;
      if (entry.id === null) this.entries.delete(entry);
    }
  }

  /** Empty the outbox and return what it held, in order (the connection is over). */
  clear(): Entry<T>[] {
    const all = [...this.entries];
    this.entries.clear();
    this.byId.clear();
    return all;
  }
}
