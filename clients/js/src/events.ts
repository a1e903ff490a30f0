/**
 * The events a `Connection`, its subscriptions and its presence dispatch. Plain `Event`
 * subclasses, so they work with the platform's `EventTarget` in browsers and in Node.
 */

import type { RoostError } from "./errors.js";

/** The state of a connection: see `Connection.state`. */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

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

/** One change of a feed subscription, as the app sees it (SPEC §9.6). */
export interface Change {
  /** The change's sequence number; for snapshot rows, the snapshot's (SPEC §9.6). */
  readonly seq: number;
  /**
   * `snapshot`: a row of the table as of `seq`; `insert`, `update`, `delete`: a change as
   * the subscriber's filter sees it (SPEC §9.7; a `delete` holds the row as it was);
   * `reset`: discard everything built from the feed, a fresh snapshot follows (`row` null).
   */
  readonly op: "snapshot" | "insert" | "update" | "delete" | "reset";
  readonly row: Record<string, unknown> | null;
}

/** `change`: a subscription delivered `change` (the same ones its iterator yields). */
export class ChangeEvent extends Event {
  readonly change: Change;

  constructor(change: Change) {
    super("change");
    this.change = change;
  }
}

/** A member of an object's presence: the hub's socket id and the state the object set. */
export interface PresenceMember {
  readonly socket: number;
  readonly state: unknown;
}

/**
 * `join`, `update`, `leave`: a member joined, changed its state, or left. `detail` (as
 * in a `CustomEvent`) and the event itself carry `socket` and `state` (for `leave`, the
 * state it had).
 */
export class PresenceEvent extends Event {
  readonly socket: number;
  readonly state: unknown;
  readonly detail: PresenceMember;

  constructor(type: "join" | "update" | "leave", socket: number, state: unknown) {
    super(type);
    this.socket = socket;
    this.state = state;
    this.detail = Object.freeze({ socket, state });
  }
}

/** `sync`: a full member list arrived (the first, or one after a reconnect) and `members` is it. */
export class PresenceSyncEvent extends Event {
  readonly members: ReadonlyMap<number, unknown>;
  readonly detail: { readonly members: ReadonlyMap<number, unknown> };

  constructor(members: ReadonlyMap<number, unknown>) {
    super("sync");
    this.members = members;
    this.detail = Object.freeze({ members });
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

/** The events of a `Subscription`. */
export interface SubscriptionEventMap {
  change: ChangeEvent;
  /** The subscription ended because of `error` (the hub refused it, or the connection ended). */
  error: ErrorEvent;
}

/** The events of `Connection.presence`. */
export interface PresenceEventMap {
  join: PresenceEvent;
  update: PresenceEvent;
  leave: PresenceEvent;
  sync: PresenceSyncEvent;
}

/** An `EventTarget` whose listeners are typed by the event map `M`, with `on()`. */
export class TypedEventTarget<M extends { [K in keyof M]: Event }> extends EventTarget {
  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: (event: M[K]) => void,
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
    if (listener !== null) this.listening(type);
  }

  /** Called when a listener of `type` is added; for subclasses. */
  protected listening(_type: string): void {}

  override removeEventListener<K extends keyof M & string>(
    type: K,
    listener: (event: M[K]) => void,
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
  on<K extends keyof M & string>(type: K, listener: (event: M[K]) => void): () => void {
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }
}

/** An `EventTarget` whose listeners are typed by `ConnectionEventMap`, with `on()`. */
export class ConnectionEventTarget extends TypedEventTarget<ConnectionEventMap> {}
