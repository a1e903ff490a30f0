/**
 * A logical connection to one object over roost.v1: one session across many sockets
 * (each a `Link`).
 *
 * Rules:
 *
 * 1. A new `Connection` takes a new random session, so its message ids start at 1
 *    (SPEC §3.1). Nothing but `hello` is written before the hub's `welcome`; then the
 *    outbox is replayed (unacknowledged messages in id order, then what waited;
 *    SPEC §5.1), then new frames go out as they are sent.
 * 2. Exactly-once messages stay in the outbox until `ack` or `error` with their id
 *    (SPEC §4.5, §5.4). Calls are at most once (`Calls`, SPEC §6.4).
 * 3. When a socket closes, `#onClosed` alone decides (with `shouldReconnect`, SPEC §7.3,
 *    and `maxRetries`) whether another one follows; `errorForClose` names the end.
 * 4. The connection ends exactly once, in `#finish()`: every waiting promise is settled,
 *    iterators end, `state` becomes `closed`.
 * 5. Local refusals (buffer full, frame too large, connection closed, not JSON) throw
 *    synchronously from `send` / `call` / `subscribe`; what the hub answers settles
 *    their promises.
 * 6. After each `welcome`, in this order: the outbox (rule 1), then every open
 *    subscription asked again (`Feeds.resume`, SPEC §9.9), then `presence_sub` if the
 *    presence is open (SPEC §10.2). An `error` frame's id names a call, a subscription
 *    or a message, looked up in that order (their ids never meet: SPEC §6.1, §9.3).
 */

import { Backoff } from "./backoff.js";
import { Calls, type PendingCall } from "./calls.js";
import { encode, utf8Length } from "./codec.js";
import { type ErrorFrame, type HubFrame, type Json, SESSION_PATTERN } from "./frames.js";
import { Feeds, type SubscribeOptions, type Subscription, feedRequest, subFrame } from "./feeds.js";
import {
  type BadFrame,
  CallAborted,
  ConnectFailed,
  ConnectionClosed,
  ConnectionLost,
  FrameTooLarge,
  HandshakeRejected,
  type RoostError,
  errorForClose,
  fromFrame,
  shouldReconnect,
} from "./errors.js";
import {
  CloseEvent,
  ConnectionEventTarget,
  type ConnectionState,
  ErrorEvent,
  MessageEvent,
  OpenEvent,
  StateEvent,
} from "./events.js";
import { type Incoming, Inbox } from "./inbox.js";
import { Link, type LinkEnd, type LinkListener, type LinkTimes } from "./link.js";
import {
  type CallOptions,
  type ConnectOptions,
  DEFAULTS,
  type SendData,
  type SendOptions,
  type WebSocketConstructor,
  nonNegative,
  randomSession,
} from "./options.js";
import { type Entry, Outbox } from "./outbox.js";
import { Presence } from "./presence.js";
import { type QueryParams, objectUrl, withQuery } from "./url.js";

interface Settler {
  resolve(): void;
  reject(error: RoostError): void;
}

type Outgoing =
  | { readonly kind: "msg"; readonly text: string; readonly settler: Settler }
  | { readonly kind: "binary"; readonly data: ArrayBuffer | ArrayBufferView; readonly settler: Settler }
  | { readonly kind: "call"; readonly call: PendingCall<Entry<Outgoing>> };

/** A promise and its settler; never an unhandled rejection (failures also go to `error` events). */
function deferred(): { promise: Promise<void>; settler: Settler } {
  let settler!: Settler;
  const promise = new Promise<void>((resolve, reject) => {
    settler = { resolve, reject };
  });
  promise.catch(() => undefined);
  return { promise, settler };
}

/**
 * One logical connection to an object: a session that survives reconnects, exactly-once
 * messages, RPC calls, and the object's messages as events or an async iterator.
 */
export class Connection extends ConnectionEventTarget implements AsyncIterable<Incoming> {
  /** The session id, the same on every socket of this connection (SPEC §3.1). */
  readonly session: string;
  /** Resolves at the first `welcome`; rejects with the connection's end if that comes first. */
  readonly ready: Promise<void>;

  #state: ConnectionState = "connecting";
  #link: Link | null = null;
  #url = "";
  #everOpened = false;
  /** Attempts since the last welcome (each one after a failure or a drop). */
  #retries = 0;
  /** Attempts in a row that closed before their welcome. */
  #failures = 0;
  /** The last error frame without id on the current socket (SPEC §7.2 "close"). */
  #closeError: RoostError | null = null;
  #endError: RoostError | null = null;
  #delayTimer: ReturnType<typeof setTimeout> | null = null;
  #closedPromise: Promise<void> | null = null;
  #closedResolve: (() => void) | null = null;
  readonly #ready: Settler;

  readonly #options: ConnectOptions;
  readonly #address: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #backoff: Backoff;
  readonly #outbox: Outbox<Outgoing>;
  readonly #calls: Calls<Entry<Outgoing>>;
  readonly #flushWaiters = new Set<{ readonly upTo: number; readonly settler: Settler }>();
  readonly #inbox = new Inbox();
  readonly #feeds: Feeds;
  #presence: Presence | null = null;
  readonly #times: LinkTimes;
  readonly #maxRetries: number;
  readonly #maxMessageSize: number;
  readonly #callTimeout: number;

  /**
   * Start connecting at once (like partysocket); `send` and `call` may be used right
   * away: what they write waits for the hub's `welcome`. Throws `TypeError` /
   * `RangeError` for bad options.
   */
  constructor(options: ConnectOptions) {
    super();
    this.#options = { ...options };
    this.#address = objectUrl(options);
    const session = options.session ?? randomSession();
    if (!SESSION_PATTERN.test(session)) {
      throw new TypeError(`session must be 1 to 128 characters of [A-Za-z0-9_-], got ${JSON.stringify(session)}`);
    }
    this.session = session;
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketClass === undefined) {
      throw new TypeError(
        "no WebSocket class: in Node 20 pass the ws package (import WebSocket from 'ws'; connect({ ..., WebSocket }))",
      );
    }
    this.#WebSocket = WebSocketClass;
    this.#backoff = new Backoff(options);
    const outbox = new Outbox<Outgoing>(options.maxEnqueuedMessages ?? DEFAULTS.maxEnqueuedMessages);
    this.#outbox = outbox;
    this.#calls = new Calls((entry) => outbox.remove(entry));
    this.#maxRetries = nonNegative("maxRetries", options.maxRetries ?? DEFAULTS.maxRetries);
    this.#maxMessageSize = nonNegative("maxMessageSize", options.maxMessageSize ?? DEFAULTS.maxMessageSize, false);
    this.#callTimeout = nonNegative("callTimeout", options.callTimeout ?? DEFAULTS.callTimeout);
    this.#feeds = new Feeds({
      nextId: () => this.#calls.takeId(),
      write: (text) => this.#write(text),
      delay: (n) => this.#backoff.delay(n),
      maxRetries: this.#maxRetries,
    });
    this.#times = {
      connectionTimeout: nonNegative("connectionTimeout", options.connectionTimeout ?? DEFAULTS.connectionTimeout, false),
      pingInterval: nonNegative("pingInterval", options.pingInterval ?? DEFAULTS.pingInterval),
      pingTimeout: nonNegative("pingTimeout", options.pingTimeout ?? DEFAULTS.pingTimeout, false),
    };
    let ready!: Settler;
    this.ready = new Promise<void>((resolve, reject) => {
      ready = { resolve, reject };
    });
    this.ready.catch(() => undefined);
    this.#ready = ready;
    void this.#open();
  }

  // -- what the user reads ---------------------------------------------------------------

  /**
   * `connecting` (a socket is opening or waits for `welcome`), `open` (welcomed),
   * `reconnecting` (waiting before the next attempt), `closed` (for good).
   */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The hub's id of the current socket (from `welcome`), or null. */
  get socketId(): number | null {
    return this.#link?.socketId ?? null;
  }

  /** The URL of the current (or last) socket, query included. */
  get url(): string {
    return this.#url;
  }

  /** Frames waiting for the hub: unacknowledged messages, and what waits for a socket. */
  get bufferedCount(): number {
    return this.#outbox.size;
  }

  /** Attempts since the last `welcome` (partysocket's `retryCount`). */
  get retryCount(): number {
    return this.#retries;
  }

  /** Why the connection ended, once `state` is `closed`; null after `close()` or a normal close by the object. */
  get error(): RoostError | null {
    return this.#endError;
  }

  // -- what the user does ----------------------------------------------------------------

  /**
   * Send `data` to the object's `websocket_message`: a string as is, binary data as a
   * binary frame (at most once), anything else as compact JSON text. Exactly once by
   * default (SPEC §5).
   *
   * Throws at once, and nothing is sent: `BufferFull`, `FrameTooLarge`, `ConnectionClosed`,
   * or `TypeError` for data that is not JSON. The promise resolves when the hub
   * acknowledges the message (when it is written, for at-most-once data) and rejects with
   * the hub's error (`ObjectError`: the handler raised) or with the connection's end. It
   * never needs to be awaited: failures also go to the `error` event.
   */
  send(data: SendData, options: SendOptions = {}): Promise<void> {
    this.#ensureUsable();
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
      this.#checkSize(data.byteLength);
      const { promise, settler } = deferred();
      this.#enqueue(false, () => ({ kind: "binary", data, settler }));
      return promise;
    }
    if (data === undefined || typeof data === "function" || typeof data === "symbol" || typeof data === "bigint") {
      throw new TypeError(`send() takes text, binary data or a JSON value, got ${typeof data}`);
    }
    const exactlyOnce = options.exactlyOnce ?? true;
    this.#outbox.ensureRoom();
    const json = data as Json;
    const text = encode(exactlyOnce ? { t: "msg", data: json, id: this.#outbox.nextId } : { t: "msg", data: json });
    this.#checkSize(utf8Length(text));
    const { promise, settler } = deferred();
    this.#enqueue(exactlyOnce, () => ({ kind: "msg", text, settler }));
    return promise;
  }

  /**
   * Call the object's public method `method` with positional `args` and keyword `kwargs`
   * (SPEC §6). Resolves with what it returned, after its writes committed. Rejects with
   * the hub's error (`MethodNotFound`, `InvalidArguments`, `ObjectError`, ...),
   * `ConnectionLost` if the socket closed before the answer (the method may or may not
   * have run), `CallTimeout`, `CallAborted`, or the connection's end. A call made while
   * the connection is not open waits for the next socket.
   *
   * Throws at once, and nothing is sent: `BufferFull`, `FrameTooLarge`, `ConnectionClosed`,
   * `CallAborted` (the signal aborted already), `TypeError` for arguments that are not JSON.
   */
  call<T = unknown>(
    method: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: CallOptions = {},
  ): Promise<T> {
    this.#ensureUsable();
    if (typeof method !== "string" || method === "") {
      throw new TypeError(`method must be a non-empty string, got ${JSON.stringify(method)}`);
    }
    if (!Array.isArray(args)) throw new TypeError("args must be an array");
    if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) throw new TypeError("kwargs must be an object");
    const signal = options.signal;
    if (signal?.aborted) {
      throw new CallAborted(`call ${JSON.stringify(method)} was aborted before it was sent`, { cause: signal.reason });
    }
    const timeout = nonNegative("timeout", options.timeout ?? this.#callTimeout);
    const id = this.#calls.nextId;
    const text = encode({ t: "call", id, method, args: args as Json[], kwargs: kwargs as { [key: string]: Json } });
    this.#checkSize(utf8Length(text));
    this.#outbox.ensureRoom();
    const { call, promise } = this.#calls.add<T>(method, text, timeout, signal);
    if (!this.#write(text)) call.entry = this.#outbox.add(false, () => ({ kind: "call", call }));
    return promise;
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
   * `where`), `RangeError`, `FrameTooLarge`, `ConnectionClosed`. What the hub refuses
   * ends the subscription with its error (`NoSuchFeed`, `BadSubscription`, `Forbidden`,
   * `TooManySubscriptions`, ...).
   */
  subscribe(table: string, options: SubscribeOptions = {}): Subscription {
    this.#ensureUsable();
    const request = feedRequest(table, options);
    this.#checkSize(utf8Length(encode(subFrame(request, this.#calls.nextId, request))));
    return this.#feeds.subscribe(request);
  }

  /**
   * The object's presence (SPEC §10): made at the first read, which sends
   * `presence_sub` (and again after every reconnect). After `presence.close()` the next
   * read makes a new one. Throws `ConnectionClosed` if it has to be made on a closed
   * connection.
   */
  get presence(): Presence {
    if (this.#presence !== null) return this.#presence;
    this.#ensureUsable();
    this.#presence = new Presence({
      write: (text) => this.#write(text),
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
    const upTo = this.#outbox.nextId - 1;
    if (this.#outbox.oldestId > upTo) return Promise.resolve();
    if (this.#state === "closed") return Promise.reject(this.#closedError());
    const { promise, settler } = deferred();
    this.#flushWaiters.add({ upTo, settler });
    return promise;
  }

  /**
   * Close the connection for good with `code` (default 1000). What still waits for the
   * hub (unacknowledged messages, calls) is rejected with `ConnectionClosed`: await
   * `flush()` first to be sure every message was handled. Resolves when the socket is
   * closed.
   */
  close(code = 1000, reason = ""): Promise<void> {
    if (this.#closedPromise !== null) return this.#closedPromise;
    this.#closedPromise = new Promise<void>((resolve) => {
      this.#closedResolve = resolve;
    });
    const link = this.#link;
    if (this.#state === "closed") {
      // Ended already (the hub closed it, or it gave up): at most the socket is closing.
      if (link === null) this.#closedResolve?.();
      return this.#closedPromise;
    }
    this.#finish(null);
    try {
      link?.close(code, reason);
    } catch (error) {
      this.#dispatch(new ErrorEvent(new ConnectionClosed(`close(${code}) failed: ${String(error)}`)));
    }
    if (link === null) this.#closedResolve?.();
    return this.#closedPromise;
  }

  /**
   * The object's messages from now until the connection closes, in order; then the
   * error that ended it is thrown (none after `close()` or a normal close by the object).
   */
  [Symbol.asyncIterator](): AsyncIterator<Incoming> {
    return this.#inbox.iterator();
  }

  // -- sockets ---------------------------------------------------------------------------

  async #open(): Promise<void> {
    this.#setState("connecting");
    this.#closeError = null;
    let url: string;
    try {
      url = await this.#resolveUrl();
    } catch (error) {
      if (this.#state !== "closed") this.#finish(new ConnectionClosed(`could not build the URL: ${String(error)}`, { cause: error }));
      return;
    }
    if (this.#state === "closed") return;
    this.#url = url;
    try {
      this.#link = new Link(this.#WebSocket, url, this.session, this.#times, this.#listener);
    } catch (error) {
      this.#finish(new ConnectionClosed(`could not open a WebSocket: ${String(error)}`, { cause: error }));
    }
  }

  async #resolveUrl(): Promise<string> {
    const { id, query, token } = this.#options;
    const params: QueryParams = id === undefined ? {} : { _pk: id };
    Object.assign(params, typeof query === "function" ? await query() : query);
    if (token !== undefined) params.token = typeof token === "function" ? await token() : token;
    return withQuery(this.#address, params);
  }

  readonly #listener: LinkListener = {
    welcome: (socket) => this.#onWelcome(socket),
    frame: (frame) => this.#onFrame(frame),
    binary: (data) => this.#deliver(data),
    invalid: (error: BadFrame) => this.#dispatch(new ErrorEvent(error)),
    rejected: (error: HandshakeRejected) => this.#finish(error),
    closed: (end) => this.#onClosed(end),
  };

  #onWelcome(socket: number): void {
    this.#retries = 0;
    this.#failures = 0;
    // SPEC §5.1: unacknowledged messages in id order, then what waited, before new frames.
    this.#outbox.replay((entry) => this.#writeEntry(entry));
    this.#feeds.resume();
    this.#presence?.resume();
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#setState("open");
    this.#ready.resolve();
    this.#dispatch(new OpenEvent(socket, reconnected));
  }

  #onClosed(end: LinkEnd): void {
    const { code, reason, wasClean, welcomed } = end;
    this.#link = null;
    this.#feeds.socketClosed();
    this.#presence?.socketClosed();
    if (this.#state === "closed") {
      this.#closedResolve?.();
      this.#dispatch(new CloseEvent(code, reason, wasClean, false));
      return;
    }
    const what = end.detail || `closed with ${code}${reason ? ` (${reason})` : ""}`;
    const cause = this.#closeError === null ? {} : { cause: this.#closeError };
    const lost = new ConnectionLost(`connection lost: ${what}`, { closeCode: code, reason, ...cause });
    this.#calls.loseWritten(lost);
    if (!welcomed) this.#failures += 1;
    let retry: boolean;
    let error: RoostError | null;
    if (!welcomed && end.status !== null) {
      error = new HandshakeRejected(`the hub refused the WebSocket upgrade with HTTP ${end.status}`, end.status, { closeCode: code });
      retry = error.retryable;
    } else if (shouldReconnect(code)) {
      error = welcomed ? lost : new ConnectFailed(`could not connect: ${what}`, { closeCode: code });
      retry = true;
    } else {
      error = errorForClose(code, reason, this.#closeError);
      retry = false;
    }
    if (retry && this.#retries >= this.#maxRetries) {
      retry = false;
      if (!welcomed) {
        const attempts = `${this.#failures} failed attempt${this.#failures === 1 ? "" : "s"}`;
        error = new ConnectFailed(`gave up after ${attempts}: ${error?.message ?? what}`, { closeCode: code, cause: error });
      }
    }
    if (!retry) {
      this.#finish(error, error ?? new ConnectionClosed(`the hub closed the connection: ${what}`, { closeCode: code, reason }));
      this.#dispatch(new CloseEvent(code, reason, wasClean, false));
      return;
    }
    this.#retries += 1;
    const delay = this.#backoff.delay(this.#retries);
    this.#setState("reconnecting");
    this.#dispatch(new CloseEvent(code, reason, wasClean, true));
    if (this.#state !== "reconnecting") return; // a listener closed the connection
    this.#delayTimer = setTimeout(() => {
      this.#delayTimer = null;
      void this.#open();
    }, delay);
  }

  // -- frames ----------------------------------------------------------------------------

  #onFrame(frame: HubFrame): void {
    switch (frame.t) {
      case "msg":
        this.#deliver(frame.data);
        return;
      case "ack": {
        const entry = this.#outbox.settle(frame.id);
        if (entry?.payload.kind === "msg") entry.payload.settler.resolve();
        this.#checkFlush();
        return;
      }
      case "result":
        this.#calls.answer(frame.id, frame.result); // ignored if it timed out meanwhile
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

  #onErrorFrame(frame: ErrorFrame): void {
    const error = fromFrame(frame);
    if (frame.id === null) {
      this.#closeError = error; // errorForClose reports it if the hub closes the socket next
      this.#dispatch(new ErrorEvent(error));
      const link = this.#link;
      if (link !== null && !link.welcomed && !error.retryable) {
        // The hub refused our hello and keeps the socket open: trying again cannot help.
        this.#finish(error);
        link.close(1000);
      }
      return;
    }
    if (this.#calls.fail(frame.id, error)) return;
    if (this.#feeds.fail(frame.id, error)) return;
    const entry = this.#outbox.settle(frame.id);
    if (entry?.payload.kind === "msg") {
      // SPEC §5.4: handled (its handler raised), never resent; reported for those who did not await it.
      entry.payload.settler.reject(error);
      this.#dispatch(new ErrorEvent(error));
    }
    this.#checkFlush();
  }

  #deliver(data: Incoming): void {
    this.#inbox.push(data);
    this.#dispatch(new MessageEvent(data));
  }

  // -- writing ---------------------------------------------------------------------------

  /** Write now if the current socket is welcomed and open; false otherwise. */
  #write(data: string | ArrayBuffer | ArrayBufferView): boolean {
    const link = this.#link;
    return link !== null && link.writable && link.write(data);
  }

  #enqueue(exactlyOnce: boolean, make: () => Outgoing): void {
    if (!exactlyOnce) {
      const payload = make();
      if (payload.kind !== "call" && this.#write(payload.kind === "msg" ? payload.text : payload.data)) {
        payload.settler.resolve();
        return;
      }
      this.#outbox.add(false, () => payload);
      return;
    }
    this.#writeEntry(this.#outbox.add(true, make));
  }

  #writeEntry(entry: Entry<Outgoing>): boolean {
    const payload = entry.payload;
    switch (payload.kind) {
      case "msg":
        if (!this.#write(payload.text)) return false;
        if (entry.id === null) payload.settler.resolve();
        return true;
      case "binary":
        if (!this.#write(payload.data)) return false;
        payload.settler.resolve();
        return true;
      case "call":
        if (!this.#write(payload.call.text)) return false;
        payload.call.entry = null;
        return true;
    }
  }

  #checkSize(bytes: number): void {
    if (bytes > this.#maxMessageSize) {
      throw new FrameTooLarge(`message too large: ${bytes} bytes, expected at most ${this.#maxMessageSize} (maxMessageSize)`);
    }
  }

  #ensureUsable(): void {
    if (this.#state === "closed") throw this.#closedError();
  }

  #closedError(): ConnectionClosed {
    const end = this.#endError;
    return new ConnectionClosed(
      `the connection is closed${end === null ? "" : `: ${end.message}`}`,
      end === null ? {} : { closeCode: end.closeCode, cause: end },
    );
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

  // -- the end ---------------------------------------------------------------------------

  /**
   * End the connection (once). `error` is why (null: `close()`, or the object closed it
   * normally); `pending` is what everything still waiting is rejected with. A socket
   * still open is left to whoever ends it; its close is reported when it comes.
   */
  #finish(
    error: RoostError | null,
    pending: RoostError = error ?? new ConnectionClosed("the connection was closed by the client"),
  ): void {
    if (this.#state === "closed") return;
    this.#endError = error;
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#delayTimer = null;
    this.#setState("closed");
    this.#ready.reject(pending);
    this.#calls.failAll(pending);
    for (const entry of this.#outbox.clear()) {
      if (entry.payload.kind !== "call") entry.payload.settler.reject(pending);
    }
    for (const waiter of this.#flushWaiters) waiter.settler.reject(pending);
    this.#flushWaiters.clear();
    this.#inbox.end(error);
    this.#feeds.end(error);
    this.#presence?.end(pending);
    if (error !== null) this.#dispatch(new ErrorEvent(error));
  }

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#dispatch(new StateEvent(state, previous));
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
  const connection = new Connection(options);
  await connection.ready;
  return connection;
}
