/**
 * The events a `Connection` dispatches. Plain `Event` subclasses, so they work with the
 * platform's `EventTarget` in browsers and in Node.
 */

import type { RoostError } from "./errors.js";

/** The state of a connection: see `Connection.state`. */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** `open`: the hub welcomed the session on a new socket (SPEC §3.2). */
export class OpenEvent extends Event {
  /** The hub's id of the socket (diagnostics only). */
  readonly socket: number;
  /** True when this is not the first socket of the connection. */
  readonly reconnected: boolean;

  constructor(socket: number, reconnected: boolean) {
    super("open");
    this.socket = socket;
    this.reconnected = reconnected;
  }
}

/** `message`: the object sent `data` (`ws.send` / `ctx.broadcast`; SPEC §4.3, §4.4). */
export class MessageEvent extends Event {
  /** Text from `ws.send(str)`, or an `ArrayBuffer` from `ws.send(bytes)`. */
  readonly data: string | ArrayBuffer;

  constructor(data: string | ArrayBuffer) {
    super("message");
    this.data = data;
  }
}

/** `close`: a socket closed; `willReconnect` says whether another one follows. */
export class CloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  readonly willReconnect: boolean;

  constructor(code: number, reason: string, wasClean: boolean, willReconnect: boolean) {
    super("close");
    this.code = code;
    this.reason = reason;
    this.wasClean = wasClean;
    this.willReconnect = willReconnect;
  }
}

/**
 * `error`: something failed that no promise reports: an `error` frame without id or for
 * a message nobody awaited, a frame the hub should not have sent, or the end of the
 * connection.
 */
export class ErrorEvent extends Event {
  readonly error: RoostError;
  readonly message: string;

  constructor(error: RoostError) {
    super("error");
    this.error = error;
    this.message = error.message;
  }
}

/** `state`: `Connection.state` changed. */
export class StateEvent extends Event {
  readonly state: ConnectionState;
  readonly previous: ConnectionState;

  constructor(state: ConnectionState, previous: ConnectionState) {
    super("state");
    this.state = state;
    this.previous = previous;
  }
}

/** Event types and their classes, for typed listeners. */
export interface ConnectionEventMap {
  open: OpenEvent;
  message: MessageEvent;
  close: CloseEvent;
  error: ErrorEvent;
  state: StateEvent;
}

/** An `EventTarget` whose listeners are typed by `ConnectionEventMap`, with `on()`. */
export class ConnectionEventTarget extends EventTarget {
  override addEventListener<K extends keyof ConnectionEventMap>(
    type: K,
    listener: (event: ConnectionEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | ((event: never) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  override removeEventListener<K extends keyof ConnectionEventMap>(
    type: K,
    listener: (event: ConnectionEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | ((event: never) => void) | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** `addEventListener(type, listener)`; returns the function that removes it. */
  on<K extends keyof ConnectionEventMap>(type: K, listener: (event: ConnectionEventMap[K]) => void): () => void {
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }
}
