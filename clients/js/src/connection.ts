/**
 * A logical connection to one object over roost.v1: one session across many sockets.
 * This module is the user's face of it: what they read, what they do, and where the
 * hub's frames go. The option checks are in `options.ts`; the sockets, `state` and the
 * end in `supervisor.ts` (one `Link` per socket, `link.ts`); what waits for the hub
 * (outbox, calls, flush) in `outgoing.ts`; subscriptions and presence in `feeds.ts` and
 * `presence.ts`.
 *
 * Rules:
 *
 * 1. A new `Connection` takes a new random session, so its message ids start at 1
 *    (SPEC §3.1). Nothing but `hello` is written before the hub's `welcome`; then the
 *    outbox is replayed (`Outgoing`, SPEC §5.1), then new frames go out as they are sent.
 * 2. Local refusals (buffer full, frame too large, connection closed, not JSON) throw
 *    synchronously from `send` / `call` / `subscribe`; what the hub answers settles
 *    their promises.
 * 3. After each `welcome`, in this order: the outbox (rule 1), then every open
 *    subscription asked again (`Feeds.resume`, SPEC §9.9), then `presence_sub` if the
 *    presence is open (SPEC §10.2); only then is the connection `open`.
 * 4. An `error` frame without id is about the socket (`Supervisor.socketError`); one
 *    with an id names a call, a subscription or a message, looked up in that order
 *    (their ids never meet: SPEC §6.1, §9.3).
 * 5. The connection ends once (`Supervisor`): every waiting promise is settled, the
 *    iterators of the connection and its subscriptions end, the presence ends.
 * 6. `setAuth` is a call (SPEC §6.1 ids, settled like one): `auth` frames wait in the
 *    outbox while no socket is welcomed, and fail with `ConnectionLost` when the socket
 *    they were written on closes before the answer.
 */

import { encode, utf8Length } from "./codec.js";
import type { ErrorFrame, HubFrame, Json } from "./frames.js";
import { Feeds, type SubscribeOptions, type Subscription, feedRequest, subFrame } from "./feeds.js";
import { CallAborted, MessageTooBig, type RoostError, fromFrame } from "./errors.js";
import { ConnectionEventTarget, type ConnectionState, ErrorEvent, MessageEvent } from "./events.js";
import { type Incoming, Inbox } from "./inbox.js";
import {
  type CallOptions,
  type ConnectOptions,
  type SendData,
  type SendOptions,
  type Settings,
  nonNegative,
  resolveOptions,
} from "./options.js";
import { Outgoing } from "./outgoing.js";
import { Presence } from "./presence.js";
import { Supervisor } from "./supervisor.js";

/**
 * One logical connection to an object: a session that survives reconnects, exactly-once
 * messages, RPC calls, and the object's messages as events or an async iterator.
 */
export class Connection extends ConnectionEventTarget implements AsyncIterable<Incoming> {
  /** The session id, the same on every socket of this connection (SPEC §3.1). */
  readonly session: string;
  /** Resolves at the first `welcome`; rejects with the connection's end if that comes first. */
  readonly ready: Promise<void>;

  readonly #settings: Settings;
  readonly #supervisor: Supervisor;
  readonly #outgoing: Outgoing;
  readonly #inbox = new Inbox();
  readonly #feeds: Feeds;
  #presence: Presence | null = null;

  /**
   * Start connecting at once (like partysocket); `send` and `call` may be used right
   * away: what they write waits for the hub's `welcome`. Throws `TypeError` /
   * `RangeError` for bad options.
   */
  constructor(options: ConnectOptions) {
    super();
    const settings = resolveOptions(options);
    this.#settings = settings;
    this.session = settings.session;
    const write = (data: string | ArrayBuffer | ArrayBufferView): boolean => this.#supervisor.write(data);
    this.#outgoing = new Outgoing(settings.maxEnqueuedMessages, {
      write,
      report: (error) => this.#dispatch(new ErrorEvent(error)),
    });
    this.#feeds = new Feeds({
      nextId: () => this.#outgoing.takeCallId(),
      write,
      delay: (n) => settings.backoff.delay(n),
      maxRetries: settings.maxRetries,
    });
    this.#supervisor = new Supervisor(settings, {
      welcomed: () => {
        // Rule 3: SPEC §5.1 (unacknowledged messages in id order, then what waited), §9.9, §10.2.
        this.#outgoing.replay();
        this.#feeds.resume();
        this.#presence?.resume();
      },
      frame: (frame) => this.#onFrame(frame),
      binary: (data) => this.#deliver(data),
      socketClosed: () => {
        this.#feeds.socketClosed();
        this.#presence?.socketClosed();
      },
      lost: (lost) => this.#outgoing.loseWritten(lost),
      ended: (error, pending) => {
        this.#outgoing.end(pending);
        this.#inbox.end(error);
        this.#feeds.end(error);
        this.#presence?.end(pending);
      },
      dispatch: (event) => this.#dispatch(event),
    });
    this.ready = this.#supervisor.ready;
    this.#supervisor.start();
  }

  // -- what the user reads ---------------------------------------------------------------

  /**
   * `idle` (`startClosed`: no socket until `reconnect()`), `connecting` (a socket is
   * opening or waits for `welcome`), `open` (welcomed), `reconnecting` (waiting before
   * the next attempt), `closed` (for good).
   */
  get state(): ConnectionState {
    return this.#supervisor.state;
  }

  /** The hub's id of the current socket (from `welcome`), or null. */
  get socketId(): number | null {
    return this.#supervisor.socketId;
  }

  /** The URL of the current (or last) socket, query included. */
  get url(): string {
    return this.#supervisor.url;
  }

  /** Frames waiting for the hub: unacknowledged messages, and what waits for a socket. */
  get bufferedCount(): number {
    return this.#outgoing.size;
  }

  /** Attempts since a socket last stayed welcomed for `minUptime` (partysocket's `retryCount`). */
  get retryCount(): number {
    return this.#supervisor.retryCount;
  }

  /** Why the connection ended, once `state` is `closed`; null after `close()` or a normal close by the object. */
  get error(): RoostError | null {
    return this.#supervisor.error;
  }

  // -- what the user does ----------------------------------------------------------------

  /**
   * Send `data` to the object's `websocket_message`: a string as is, binary data as a
   * binary frame (at most once), anything else as compact JSON text. Exactly once by
   * default (SPEC §5).
   *
   * Throws at once, and nothing is sent: `BufferFull`, `MessageTooBig`, `ConnectionClosed`,
   * or `TypeError` for data that is not JSON. The promise resolves when the hub
   * acknowledges the message (when it is written, for at-most-once data) and rejects with
   * the hub's error (`ObjectError`: the handler raised) or with the connection's end. It
   * never needs to be awaited: failures also go to the `error` event.
   */
  send(data: SendData, options: SendOptions = {}): Promise<void> {
    this.#supervisor.ensureUsable();
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      this.#checkSize(data.byteLength);
      return this.#outgoing.binary(data);
    }
    if (data === undefined || typeof data === "function" || typeof data === "symbol" || typeof data === "bigint") {
      throw new TypeError(`send() takes text, binary data or a JSON value, got ${typeof data}`);
    }
    const exactlyOnce = options.exactlyOnce ?? true;
    this.#outgoing.ensureRoom();
    const json = data as Json;
    const text = encode(exactlyOnce ? { t: "msg", data: json, id: this.#outgoing.nextMessageId } : { t: "msg", data: json });
    this.#checkSize(utf8Length(text));
    return this.#outgoing.message(text, exactlyOnce);
  }

  /**
   * Call the object's public method `method` with positional `args` and keyword `kwargs`
   * (SPEC §6). Resolves with what it returned, after its writes committed. Rejects with
   * the hub's error (`MethodNotFound`, `InvalidArguments`, `ObjectError`, ...),
   * `ConnectionLost` if the socket closed before the answer (the method may or may not
   * have run), `CallTimeout`, `CallAborted`, or the connection's end. A call made while
   * the connection is not open waits for the next socket.
   *
   * Throws at once, and nothing is sent: `BufferFull`, `MessageTooBig`, `ConnectionClosed`,
   * `CallAborted` (the signal aborted already), `TypeError` for arguments that are not JSON.
   */
  call<T = unknown>(
    method: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: CallOptions = {},
  ): Promise<T> {
    this.#supervisor.ensureUsable();
    if (typeof method !== "string" || method === "") {
      throw new TypeError(`method must be a non-empty string, got ${JSON.stringify(method)}`);
    }
    if (!Array.isArray(args)) throw new TypeError("args must be an array");
    if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) throw new TypeError("kwargs must be an object");
    const signal = options.signal;
    if (signal?.aborted) {
      throw new CallAborted(`call ${JSON.stringify(method)} was aborted before it was sent`, { cause: signal.reason });
    }
    const timeout = nonNegative("timeout", options.timeout ?? this.#settings.callTimeout);
    const id = this.#outgoing.nextCallId;
    const text = encode({ t: "call", id, method, args: args as Json[], kwargs: kwargs as { [key: string]: Json } });
    this.#checkSize(utf8Length(text));
    this.#outgoing.ensureRoom();
    return this.#outgoing.call<T>(method, text, timeout, signal);
  }

  /**
   * Subscribe to the object's feed table `table` (SPEC §9): `{ snapshot: true }` for the
   * rows that match then live changes, `{ since: seq }` for every change after `seq`
   * then live ones, `{}` for live changes only; `where` and `columns` narrow it. Iterate
   * the subscription or listen to its `change` events. It resumes by itself after a
   * reconnect (`since` its last seq), never delivering a change twice; after a `reset`
   * it delivers a change with op `reset`, then a fresh snapshot.
   *
   * Throws at once, and nothing is sent: `TypeError` (both `snapshot` and `since`, a bad
   * `where`), `RangeError`, `MessageTooBig`, `ConnectionClosed`. What the hub refuses
   * ends the subscription with its error (`NoSuchFeed`, `BadSubscription`, `Forbidden`,
   * `TooManySubscriptions`, ...).
   */
  subscribe(table: string, options: SubscribeOptions = {}): Subscription {
    this.#supervisor.ensureUsable();
    const request = feedRequest(table, options);
    this.#checkSize(utf8Length(encode(subFrame(request, this.#outgoing.nextCallId, request))));
    return this.#feeds.subscribe(request);
  }

  /**
   * @internal `subscribe` since a seq still to be read (feeds.ts rule 6): the database
   * client's `snapshot: false`, whose seq `stats()` takes at the call. `takeSeq` is
   * called once `options` passed the checks, and its promise must reject with a
   * `RoostError` only; the `sub` waits for it. Throws as `subscribe`, and `TypeError`
   * if `options` asks for a snapshot or gives `since`.
   */
  subscribeAfter(table: string, options: SubscribeOptions, takeSeq: () => Promise<number>): Subscription {
    this.#supervisor.ensureUsable();
    const request = feedRequest(table, options);
    if (request.snapshot || request.since !== undefined) {
      throw new TypeError("subscribeAfter() takes the seq it subscribes since: options give neither snapshot nor since");
    }
    // The largest frame it may write: since the largest seq.
    const largest = { snapshot: false, since: Number.MAX_SAFE_INTEGER };
    this.#checkSize(utf8Length(encode(subFrame(request, this.#outgoing.nextCallId, largest))));
    return this.#feeds.subscribe(request, takeSeq());
  }

  /**
   * The object's presence (SPEC §10): made at the first read, which sends
   * `presence_sub` (and again after every reconnect). After `presence.close()` the next
   * read makes a new one. Throws `ConnectionClosed` if it has to be made on a closed
   * connection.
   */
  get presence(): Presence {
    if (this.#presence !== null) return this.#presence;
    this.#supervisor.ensureUsable();
    this.#presence = new Presence({
      write: (text) => this.#supervisor.write(text),
      closed: (presence) => {
        if (this.#presence === presence) this.#presence = null;
      },
    });
    return this.#presence;
  }

  /**
   * Resolves when the hub has answered (`ack` or `error`) every exactly-once message
   * sent so far; rejects with the connection's end if that comes first.
   */
  flush(): Promise<void> {
    if (this.#outgoing.answered) return Promise.resolve();
    if (this.#supervisor.state === "closed") return Promise.reject(this.#supervisor.closedError());
    return this.#outgoing.whenAnswered();
  }

  /**
   * Close the current socket, if any, with `code` (1000 or 3000-4999, default 1000) and
   * open a new one now, like partysocket's `reconnect()`: the session goes on, so
   * unacknowledged messages are resent and handled once; calls written on the old socket
   * fail with `ConnectionLost`. Opens the first socket of a `startClosed` connection.
   * Throws `ConnectionClosed` after `close()` (a closed connection stays closed) and
   * `RangeError` for another code.
   */
  reconnect(code = 1000, reason = ""): void {
    if (code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new RangeError(`close code must be 1000 or from 3000 to 4999, got ${String(code)}`);
    }
    this.#supervisor.reconnect(code, reason);
  }

  /**
   * Refresh the session's credentials without reconnecting (SPEC `auth` frame): sends
   * `token`, or, without one, what the `token` option gives (its function is called for
   * a fresh token). The object's `websocket_auth(ws, token)` checks it; resolves with
   * what it returned. A given token, once accepted, also replaces the `token` option
   * for later reconnects (a refused one does not). Rejects with `Unauthorized` (the object refused the token),
   * `MethodNotFound` (the object has no `websocket_auth`), `ConnectionLost` (the socket
   * closed before the answer), `CallTimeout` (after `callTimeout`), or the connection's
   * end; with `TypeError` for an empty token or none to send.
   */
  async setAuth(token?: string): Promise<unknown> {
    this.#supervisor.ensureUsable();
    const source = token ?? this.#settings.token;
    if (source === undefined) throw new TypeError("setAuth() needs a token: pass one, or give the token option");
    const value = typeof source === "function" ? await source() : source;
    if (typeof value !== "string" || value === "") {
      throw new TypeError(`the token must be a non-empty string, got ${value === "" ? '""' : typeof value}`);
    }
    this.#supervisor.ensureUsable(); // the token function may have taken a while
    const id = this.#outgoing.nextCallId;
    const text = encode({ t: "auth", id, token: value });
    this.#checkSize(utf8Length(text));
    this.#outgoing.ensureRoom();
    const result = await this.#outgoing.call("auth", text, this.#settings.callTimeout, undefined);
    // Only an accepted token opens later sockets (as in the Python SDK): a refused one
    // would be refused again at the next connect.
    if (token !== undefined) this.#settings.token = token;
    return result;
  }

  /**
   * Close the connection for good with `code` (default 1000). What still waits for the
   * hub (unacknowledged messages, calls) is rejected with `ConnectionClosed`: await
   * `flush()` first to be sure every message was handled. Resolves when the socket is
   * closed.
   */
  close(code = 1000, reason = ""): Promise<void> {
    return this.#supervisor.close(code, reason);
  }

  /**
   * The object's messages from now until the connection closes, in order; then the
   * error that ended it is thrown (none after `close()` or a normal close by the object).
   */
  [Symbol.asyncIterator](): AsyncIterator<Incoming> {
    return this.#inbox.iterator();
  }

  // -- frames ----------------------------------------------------------------------------

  #onFrame(frame: HubFrame): void {
    switch (frame.t) {
      case "msg":
        this.#deliver(frame.data);
        return;
      case "ack":
        this.#outgoing.ack(frame.id);
        return;
      case "result":
        this.#outgoing.answer(frame.id, frame.result); // ignored if it timed out meanwhile
        return;
      case "error":
        this.#onErrorFrame(frame);
        return;
      case "snapshot":
      case "changes":
      case "subscribed":
      case "reset":
        this.#feeds.onFrame(frame);
        return;
      case "presence":
      case "join":
      case "update":
      case "leave":
        this.#presence?.onFrame(frame);
        return;
      default:
        return; // welcome and pong stay in the link
    }
  }

  /** Rule 4. */
  #onErrorFrame(frame: ErrorFrame): void {
    const error = fromFrame(frame);
    if (frame.id === null) {
      this.#supervisor.socketError(error);
      return;
    }
    if (this.#outgoing.failCall(frame.id, error)) return;
    if (this.#feeds.fail(frame.id, error)) return;
    this.#outgoing.failMessage(frame.id, error);
  }

  #deliver(data: Incoming): void {
    this.#inbox.push(data);
    this.#dispatch(new MessageEvent(data));
  }

  #checkSize(bytes: number): void {
    if (bytes > this.#settings.maxMessageSize) {
      throw new MessageTooBig(`message too large: ${bytes} bytes, expected at most ${this.#settings.maxMessageSize} (maxMessageSize)`);
    }
  }

  #dispatch(event: Event): void {
    this.dispatchEvent(event);
  }
}

/**
 * Open a connection and wait for the hub's `welcome`. Failed attempts are retried with
 * backoff (up to `maxRetries`; then `ConnectFailed`), like reconnects; a refusal that
 * cannot change (`HandshakeRejected`: HTTP 4xx in Node, or no `roost.v1`) rejects at
 * once. Once open, the connection reconnects by itself.
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  if (options.startClosed === true) {
    throw new TypeError("connect() waits for the hub: with startClosed, use new Connection(...) then reconnect()");
  }
  const connection = new Connection(options);
  await connection.ready;
  return connection;
}
