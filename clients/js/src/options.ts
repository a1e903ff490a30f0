/**
 * What a connection is made with: its options (partysocket's names where they mean the
 * same thing), the WebSocket seam, their defaults, and how they are checked.
 *
 * Rules:
 *
 * 1. A connection's options are checked once, when it is made (`resolveOptions`), in a
 *    fixed order, so the first bad one is the one reported (`TypeError` / `RangeError`);
 *    nothing is opened before they all passed.
 * 2. The options are copied then: changing the object passed in changes nothing later.
 *    Only the `query` and `token` functions are called again, before every socket
 *    (`socketUrl`); an accepted `setAuth(token)` replaces the token.
 * 3. The debug log never holds the token: URLs are logged with it redacted (`redact`),
 *    frames by their type and id only.
 */

import { Backoff, type BackoffOptions } from "./backoff.js";
import { type Json, SESSION_PATTERN } from "./frames.js";
import type { LinkTimes } from "./link.js";
import { outboxLimit } from "./outbox.js";
import { type AddressOptions, type QueryParams, objectUrl, withQuery } from "./url.js";

/** Where the `debug` option sends its lines: `console.debug`, or a function of the user's. */
export type DebugLogger = (...args: unknown[]) => void;

/** The part of the WebSocket API a connection uses (browsers' `WebSocket`, the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  binaryType: string;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
  removeEventListener(type: string, listener: (event: any) => void): void;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, the `ws` package's default export in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Everything `connect` and `new Connection` accept. */
export interface ConnectOptions extends AddressOptions, BackoffOptions {
  /** partysocket's connection id: sent as the query parameter `_pk` when given. */
  id?: string;
  /**
   * The session (SPEC §3.1): 1-128 of `[A-Za-z0-9_-]`; default 128 random bits, new for
   * every `Connection`. Reuse one only together with the message ids it already used:
   * the hub drops a message whose id is not above the highest it handled as a duplicate.
   */
  session?: string;
  /** Query parameters, or a function called before every (re)connect (fresh tokens). */
  query?: QueryParams | (() => QueryParams | Promise<QueryParams>);
  /** Sent as the query parameter `token` (browsers cannot set headers); a function is called before every (re)connect. */
  token?: string | (() => string | Promise<string>);
  /** The WebSocket class; required where there is no global one (Node 20: the `ws` package's default export). */
  WebSocket?: WebSocketConstructor;
  /** Most frames that may wait for the hub (unacknowledged, or not yet written) before `send` / `call` throw `BufferFull`. Default 1000. */
  maxEnqueuedMessages?: number;
  /** Attempts after a failure or a drop before giving up, counted until a socket stays welcomed for `minUptime`. 0: never reconnect. Default Infinity. */
  maxRetries?: number;
  /** Most time (ms) from opening a socket to the hub's `welcome`. Default 10000. */
  connectionTimeout?: number;
  /** Largest frame `send` / `call` write, in UTF-8 bytes (the hub's default limit). Default 1048576. */
  maxMessageSize?: number;
  /** Send a `ping` after this long (ms) without one; 0: never. Default 25000. */
  pingInterval?: number;
  /** Drop the socket (and reconnect) if nothing arrives this long (ms) after a `ping`. Default 10000. */
  pingTimeout?: number;
  /** Default timeout of `call`, in ms; 0: none. Default 0. */
  callTimeout?: number;
  /**
   * partysocket's: a socket must stay welcomed this long (ms) before the retry count
   * (and so the backoff) starts over, so a hub that accepts and drops at once is not
   * hammered at the shortest delay. Default 5000.
   */
  minUptime?: number;
  /** partysocket's: open no socket until `reconnect()` is called (`state` is `idle` until then). */
  startClosed?: boolean;
  /**
   * Log connects, closes, reconnect delays and frames (type and id only; the token is
   * never logged): true for `console.debug`, or a function that gets the same arguments.
   */
  debug?: boolean | DebugLogger;
}

/** Options of one `call`. */
export interface CallOptions {
  /** Reject with `CallTimeout` after this many ms (the method may still run); 0: none. */
  timeout?: number;
  /** Reject with `CallAborted` when this signal aborts (the method may still run). */
  signal?: AbortSignal;
}

/** Options of one `send`. */
export interface SendOptions {
  /**
   * Deliver exactly once (default): numbered, kept and resent until the hub acknowledges
   * it (SPEC §5). False: at most once, never resent (SPEC §4.1). Binary data is always
   * at most once (SPEC §4.4).
   */
  exactlyOnce?: boolean;
}

/** What `send` accepts: text, binary data, or a JSON value (sent as compact JSON text). */
export type SendData = string | ArrayBuffer | ArrayBufferView | Json | object;

/** The defaults of the options above that have one. */
export const DEFAULTS = Object.freeze({
  maxEnqueuedMessages: 1000,
  maxRetries: Number.POSITIVE_INFINITY,
  connectionTimeout: 10_000,
  maxMessageSize: 1024 * 1024,
  pingInterval: 25_000,
  pingTimeout: 10_000,
  callTimeout: 0,
  minUptime: 5000,
});

/** `value`, or `RangeError` if it is not a number from 0 (from above 0 unless `allowZero`). */
export function nonNegative(name: string, value: number, allowZero = true): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(`${name} must be a ${allowZero ? "non-negative" : "positive"} number, got ${String(value)}`);
  }
  return value;
}

/** A random session id: 128 bits, base64url (22 characters; SPEC §3.1). */
export function randomSession(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/** A connection's options, checked, with their defaults filled in (rule 1). */
export interface Settings {
  /** The object's URL, without what `socketUrl` adds before every socket. */
  readonly address: string;
  /** The session (SPEC §3.1): the one given, or a new random one. */
  readonly session: string;
  readonly WebSocket: WebSocketConstructor;
  readonly backoff: Backoff;
  readonly maxEnqueuedMessages: number;
  readonly maxRetries: number;
  readonly maxMessageSize: number;
  readonly callTimeout: number;
  readonly minUptime: number;
  readonly startClosed: boolean;
  readonly times: LinkTimes;
  /** The debug log, or null (rule 3). */
  readonly log: DebugLogger | null;
  /** What `socketUrl` adds to `address` (rule 2); an accepted `setAuth(token)` replaces `token`. */
  readonly id: string | undefined;
  readonly query: ConnectOptions["query"];
  token: ConnectOptions["token"];
}

/**
 * Check `options` and fill in the defaults (rule 1): the address, the session, the
 * WebSocket class, the backoff, then the limits and times. Throws `TypeError` /
 * `RangeError` for the first bad one.
 */
export function resolveOptions(options: ConnectOptions): Settings {
  const { id, query, token } = options;
  const address = objectUrl(options);
  const session = options.session ?? randomSession();
  if (!SESSION_PATTERN.test(session)) {
    throw new TypeError(`session must be 1 to 128 characters of [A-Za-z0-9_-], got ${JSON.stringify(session)}`);
  }
  const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (WebSocketClass === undefined) {
    throw new TypeError(
      "no WebSocket class: in Node 20 pass the ws package (import WebSocket from 'ws'; connect({ ..., WebSocket }))",
    );
  }
  const backoff = new Backoff(options);
  const maxEnqueuedMessages = outboxLimit(options.maxEnqueuedMessages ?? DEFAULTS.maxEnqueuedMessages);
  const maxRetries = nonNegative("maxRetries", options.maxRetries ?? DEFAULTS.maxRetries);
  const maxMessageSize = nonNegative("maxMessageSize", options.maxMessageSize ?? DEFAULTS.maxMessageSize, false);
  const callTimeout = nonNegative("callTimeout", options.callTimeout ?? DEFAULTS.callTimeout);
  const minUptime = nonNegative("minUptime", options.minUptime ?? DEFAULTS.minUptime);
  const log = debugLogger(options.debug);
  const times: LinkTimes = {
    connectionTimeout: nonNegative("connectionTimeout", options.connectionTimeout ?? DEFAULTS.connectionTimeout, false),
    pingInterval: nonNegative("pingInterval", options.pingInterval ?? DEFAULTS.pingInterval),
    pingTimeout: nonNegative("pingTimeout", options.pingTimeout ?? DEFAULTS.pingTimeout, false),
  };
  return {
    address,
    session,
    WebSocket: WebSocketClass,
    backoff,
    maxEnqueuedMessages,
    maxRetries,
    maxMessageSize,
    callTimeout,
    minUptime,
    startClosed: options.startClosed === true,
    times,
    log,
    id,
    query,
    token,
  };
}

function debugLogger(debug: ConnectOptions["debug"]): DebugLogger | null {
  if (debug === undefined || debug === false) return null;
  if (debug === true) return (...args) => console.debug(...args);
  if (typeof debug === "function") return debug;
  throw new TypeError(`debug must be a boolean or a function, got ${typeof debug}`);
}

/** `url` with the value of its `token` query parameter replaced, for logs (rule 3). */
export function redact(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has("token")) return url;
  parsed.searchParams.set("token", "REDACTED");
  return parsed.href;
}

/** The URL of the next socket: the address with `_pk`, the query and the token (their functions called now). */
export async function socketUrl(settings: Settings): Promise<string> {
  const { id, query, token } = settings;
  const params: QueryParams = id === undefined ? {} : { _pk: id };
  Object.assign(params, typeof query === "function" ? await query() : query);
  if (token !== undefined) params.token = typeof token === "function" ? await token() : token;
  return withQuery(settings.address, params);
}
