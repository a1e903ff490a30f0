/**
 * What a connection sent that the hub has not settled yet: the outbox (exactly-once
 * messages until their `ack` or `error`, anything else until it is written), the calls
 * waiting for their answer, and the `flush()` waiters. It never touches a socket: it
 * writes through `OutgoingPort.write`, which takes a frame only while the current
 * socket is welcomed and open.
 *
 * Rules:
 *
 * 1. Nothing but `hello` is written before the hub's `welcome` (the port refuses); then
 *    `replay()` writes the outbox (unacknowledged messages in id order, then what waited;
 *    SPEC §5.1), then new frames go out as they are sent.
 * 2. Exactly-once messages stay in the outbox until `ack` or `error` with their id
 *    (SPEC §4.5, §5.4). Calls are at most once (`Calls`, SPEC §6.4).
 * 3. Every promise handed out is settled once: by the hub's answer, when its frame is
 *    written (at-most-once data), or with the connection's end (`end`).
 */

import { Calls, type PendingCall } from "./calls.js";
import type { ConnectionLost, RoostError } from "./errors.js";
import { type Entry, Outbox } from "./outbox.js";

interface Settler {
  resolve(): void;
  reject(error: RoostError): void;
}

/** One frame in the outbox, and whom to tell when it is settled. */
type Pending =
  | { readonly kind: "msg"; readonly text: string; readonly settler: Settler }
  | { readonly kind: "binary"; readonly data: ArrayBuffer | ArrayBufferView; readonly settler: Settler }
  | { readonly kind: "call"; readonly call: PendingCall<Entry<Pending>> };

/** A promise and its settler; never an unhandled rejection (failures also go to `error` events). */
function deferred(): { promise: Promise<void>; settler: Settler } {
  let settler!: Settler;
  const promise = new Promise<void>((resolve, reject) => {
    settler = { resolve, reject };
  });
  promise.catch(() => undefined);
  return { promise, settler };
}

/** What the outgoing side needs from its connection. */
export interface OutgoingPort {
  /** Write now if the current socket is welcomed and open; false otherwise. */
  write(data: string | ArrayBuffer | ArrayBufferView): boolean;
  /** A message the hub answered with `error`: told as an `error` event too, for those who did not await it. */
  report(error: RoostError): void;
}

/** The frames, calls and flushes of one connection that wait for the hub (rules 1-3). */
export class Outgoing {
  readonly #port: OutgoingPort;
  readonly #outbox: Outbox<Pending>;
  readonly #calls: Calls<Entry<Pending>>;
  readonly #flushWaiters = new Set<{ readonly upTo: number; readonly settler: Settler }>();

  /** `limit`: at most that many frames wait (`maxEnqueuedMessages`, checked already). */
  constructor(limit: number, port: OutgoingPort) {
    this.#port = port;
    const outbox = new Outbox<Pending>(limit);
    this.#outbox = outbox;
    this.#calls = new Calls((entry) => outbox.remove(entry));
  }

  /** Frames waiting: unacknowledged messages, and what waits for a socket. */
  get size(): number {
    return this.#outbox.size;
  }

  /** The id the next exactly-once message gets. */
  get nextMessageId(): number {
    return this.#outbox.nextId;
  }

  /** The id the next call gets. */
  get nextCallId(): number {
    return this.#calls.nextId;
  }

  /** Use up the next call id for a `sub` frame (SPEC §9.3). */
  takeCallId(): number {
    return this.#calls.takeId();
  }

  /** Throw `BufferFull` if one more frame would go over the limit. */
  ensureRoom(): void {
    this.#outbox.ensureRoom();
  }

  // -- sending ---------------------------------------------------------------------------

  /** Binary data, at most once: written now if it can be, else queued. Resolves once written. */
  binary(data: ArrayBuffer | ArrayBufferView): Promise<void> {
    const { promise, settler } = deferred();
    this.#enqueue(false, () => ({ kind: "binary", data, settler }));
    return promise;
  }

  /**
   * The `msg` frame `text` (made with `nextMessageId` when `exactlyOnce`). Resolves at its
   * `ack` (exactly once) or once written (at most once).
   */
  message(text: string, exactlyOnce: boolean): Promise<void> {
    const { promise, settler } = deferred();
    this.#enqueue(exactlyOnce, () => ({ kind: "msg", text, settler }));
    return promise;
  }

  /** The `call` frame `text` (made with `nextCallId`): written now, or when a socket is welcomed. */
  call<T>(method: string, text: string, timeout: number, signal: AbortSignal | undefined): Promise<T> {
    const { call, promise } = this.#calls.add<T>(method, text, timeout, signal);
    if (!this.#port.write(text)) call.entry = this.#outbox.add(false, () => ({ kind: "call", call }));
    return promise;
  }

  /** A socket was welcomed: write what waits, in order (rule 1; SPEC §5.1). */
  replay(): void {
    this.#outbox.replay((entry) => this.#writeEntry(entry));
  }

  // -- what the hub answers ----------------------------------------------------------------

  /** `ack` of message `id`. */
  ack(id: number): void {
    const entry = this.#outbox.settle(id);
    if (entry?.payload.kind === "msg") entry.payload.settler.resolve();
    this.#checkFlush();
  }

  /** `result` of call `id`; ignored if it timed out meanwhile. */
  answer(id: number, result: unknown): void {
    this.#calls.answer(id, result);
  }

  /** An `error` for call `id`; false if no such call waits. */
  failCall(id: number, error: RoostError): boolean {
    return this.#calls.fail(id, error);
  }

  /** An `error` for message `id` (SPEC §5.4): handled (its handler raised), never resent. */
  failMessage(id: number, error: RoostError): void {
    const entry = this.#outbox.settle(id);
    if (entry?.payload.kind === "msg") {
      entry.payload.settler.reject(error);
      this.#port.report(error);
    }
    this.#checkFlush();
  }

  /** The socket closed: every call written on it fails with `lost` (SPEC §6.4). */
  loseWritten(lost: ConnectionLost): void {
    this.#calls.loseWritten(lost);
  }

  // -- flush and the end -------------------------------------------------------------------

  /** Whether the hub has answered every exactly-once message sent so far. */
  get answered(): boolean {
    return this.#outbox.oldestId > this.#outbox.nextId - 1;
  }

  /** Resolves when the hub has answered every exactly-once message sent so far. */
  whenAnswered(): Promise<void> {
    const upTo = this.#outbox.nextId - 1;
    const { promise, settler } = deferred();
    this.#flushWaiters.add({ upTo, settler });
    return promise;
  }

  /** The connection ended: everything that waits is rejected with `pending`. */
  end(pending: RoostError): void {
    this.#calls.failAll(pending);
    for (const entry of this.#outbox.clear()) {
      if (entry.payload.kind !== "call") entry.payload.settler.reject(pending);
    }
    for (const waiter of this.#flushWaiters) waiter.settler.reject(pending);
    this.#flushWaiters.clear();
  }

  #enqueue(exactlyOnce: boolean, make: () => Pending): void {
    if (!exactlyOnce) {
      const payload = make();
      if (payload.kind !== "call" && this.#port.write(payload.kind === "msg" ? payload.text : payload.data)) {
        payload.settler.resolve();
        return;
      }
      this.#outbox.add(false, () => payload);
      return;
    }
    this.#writeEntry(this.#outbox.add(true, make));
  }

  #writeEntry(entry: Entry<Pending>): boolean {
    const payload = entry.payload;
    switch (payload.kind) {
      case "msg":
        if (!this.#port.write(payload.text)) return false;
        if (entry.id === null) payload.settler.resolve();
        return true;
      case "binary":
        if (!this.#port.write(payload.data)) return false;
        payload.settler.resolve();
        return true;
      case "call":
        if (!this.#port.write(payload.call.text)) return false;
        payload.call.entry = null;
        return true;
    }
  }

  #checkFlush(): void {
    if (this.#flushWaiters.size === 0) return;
    const oldest = this.#outbox.oldestId;
    for (const waiter of [...this.#flushWaiters]) {
      if (oldest > waiter.upTo) {
        this.#flushWaiters.delete(waiter);
        waiter.settler.resolve();
      }
    }
  }
}
