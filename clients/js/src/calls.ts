/**
 * The RPC calls of one connection that wait for their answer (SPEC §6).
 *
 * Rules:
 *
 * 1. Call ids count down from 2^53 - 1 (SPEC §6.1), so they never meet message ids,
 *    which count up from 1. Subscriptions take their ids from the same count
 *    (`takeId`, SPEC §9.3), so an `error` frame's id names one call or one `sub`.
 * 2. A call is settled once: by its `result` or `error` frame, its timeout, its abort
 *    signal, a lost socket, or the connection's end; whatever comes later is ignored.
 * 3. A call that waits in the outbox (not written yet) has its `entry` set; settling it
 *    hands the entry to `release` (the outbox drops it). A written call whose socket
 *    closes is lost (SPEC §6.4); one not written waits for the next socket.
 */

import { MAX_ID } from "./frames.js";
import { CallAborted, CallTimeout, ConnectionLost, type RoostError } from "./errors.js";

/** One call waiting for its answer. */
export interface PendingCall<E> {
  readonly id: number;
  readonly method: string;
  /** The encoded `call` frame. */
  readonly text: string;
  /** The outbox entry while the call waits for a socket; null once written. */
  entry: E | null;
}

interface Waiting<E> extends PendingCall<E> {
  resolve(value: unknown): void;
  reject(error: RoostError): void;
  timer: ReturnType<typeof setTimeout> | null;
  cleanup: (() => void) | null;
}

/** The calls of a connection, by id. */
export class Calls<E> {
  private readonly waiting = new Map<number, Waiting<E>>();
  private nextCallId = MAX_ID;
  private readonly release: (entry: E) => void;

  constructor(release: (entry: E) => void) {
    this.release = release;
  }

  /** The id the next call gets. */
  get nextId(): number {
    return this.nextCallId;
  }

  /** Use up the next id for a frame that is not a call: a `sub` (SPEC §9.3). */
  takeId(): number {
    const id = this.nextCallId;
    this.nextCallId -= 1;
    return id;
  }

  /** How many calls wait. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * Register the call `text` (made with `nextId`); it fails with `CallTimeout` after
   * `timeout` ms (0: never) and with `CallAborted` when `signal` aborts.
   */
  add<T>(method: string, text: string, timeout: number, signal?: AbortSignal): { call: PendingCall<E>; promise: Promise<T> } {
    const id = this.nextCallId;
    this.nextCallId -= 1;
    let call!: Waiting<E>;
    const promise = new Promise<T>((resolve, reject) => {
      call = { id, method, text, entry: null, resolve: resolve as (value: unknown) => void, reject, timer: null, cleanup: null };
    });
    if (timeout > 0) {
      call.timer = setTimeout(() => {
        this.fail(id, new CallTimeout(`call ${JSON.stringify(method)} got no answer within ${timeout} ms`, { id }));
      }, timeout);
    }
    if (signal !== undefined) {
      const onAbort = (): void => {
        this.fail(id, new CallAborted(`call ${JSON.stringify(method)} was aborted`, { id, cause: signal.reason }));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      call.cleanup = () => signal.removeEventListener("abort", onAbort);
    }
    this.waiting.set(id, call);
    return { call, promise };
  }

  /** Whether call `id` waits (an `error` frame with this id is about it). */
  has(id: number): boolean {
    return this.waiting.has(id);
  }

  /** Call `id` returned `result`; false if no such call waits (timed out, aborted). */
  answer(id: number, result: unknown): boolean {
    const call = this.take(id);
    call?.resolve(result);
    return call !== undefined;
  }

  /** Call `id` failed with `error`; false if no such call waits. */
  fail(id: number, error: RoostError): boolean {
    const call = this.take(id);
    call?.reject(error);
    return call !== undefined;
  }

  /** SPEC §6.4: every call written to the socket that closed fails with `lost`. */
  loseWritten(lost: ConnectionLost): void {
    for (const call of [...this.waiting.values()]) {
      if (call.entry !== null) continue; // not written yet: it waits for the next socket
      this.fail(
        call.id,
        new ConnectionLost(`call ${JSON.stringify(call.method)}: ${lost.message}`, {
          id: call.id,
          closeCode: lost.closeCode,
          reason: lost.reason,
          cause: lost.cause,
        }),
      );
    }
  }

  /** The connection ended: every call fails with `error`. */
  failAll(error: RoostError): void {
    for (const id of [...this.waiting.keys()]) this.fail(id, error);
  }

  private take(id: number): Waiting<E> | undefined {
    const call = this.waiting.get(id);
    if (call === undefined) return undefined;
    this.waiting.delete(id);
    if (call.timer !== null) clearTimeout(call.timer);
    call.cleanup?.();
    if (call.entry !== null) this.release(call.entry);
    call.entry = null;
    return call;
  }
}
