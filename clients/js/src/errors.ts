/**
 * Errors of roost-client: one class per stable code, and the close-code policy
 * (protocol/SPEC.md §7). The codes and classes are those of the Python SDK.
 *
 * Rules:
 *
 * 1. Every error this package throws or rejects with is a `RoostError`. Code branches on
 *    `error.code` (or the class) and `error.retryable`, never on `error.message`.
 * 2. A code's default `retryable` flag and close code are read from `ERRORS` and nowhere
 *    else; an error the hub sent keeps the hub's own `retryable` (SPEC §7.1). `CODES` is
 *    the one map from a code to its class, `fromFrame` the one place an `error` frame
 *    becomes an exception.
 * 3. `shouldReconnect` and `errorForClose` are the one place close codes are judged
 *    (SPEC §7.3): whether to reconnect, and which error reports a close for good.
 *
 * Hierarchy (every class extends `RoostError`; `remote` is true when the hub sent it):
 *
 *     RoostError             root: code, message, retryable, closeCode, remote, id
 *     │  codes the hub sends in error frames (SPEC §7.2)
 *     ├── BadFrame           bad_frame: a frame broke the SPEC (ours, or one the hub sent)
 *     ├── SessionRequired    session_required: a second hello, or a msg id before hello
 *     ├── MessageTooBig      message_too_big: over the message limit (also refused locally)
 *     ├── MethodNotFound     method_not_found: no public method of that name
 *     ├── InvalidArguments   invalid_arguments: arguments do not match; the method did not run
 *     ├── ObjectError        object_error: the object's code raised; its writes rolled back
 *     ├── ActivationFailed   activation_failed: the object's constructor raised
 *     ├── Overloaded         overloaded: the object's queue is full
 *     ├── CallCycle          call_cycle: the call would deadlock on the object's input gate
 *     ├── ObjectAborted      object_aborted: the object was reset (ctx.abort); retryable
 *     ├── NoSuchFeed         no_such_feed: `sub` names a table that is not a feed table
 *     ├── BadSubscription    bad_subscription: invalid where / columns, unknown column
 *     ├── Forbidden          forbidden: the object refused the subscription
 *     ├── TooManySubscriptions  too_many_subscriptions: the socket has the most allowed
 *     ├── Unauthorized       unauthorized: the object refused the token of `setAuth`
 *     ├── HubStopping        hub_stopping: the hub is shutting down (retryable)
 *     ├── InternalError      internal_error: a fault inside the hub (retryable)
 *     ├── ConnectionLost     connection_lost: the socket closed before the answer (retryable)
 *     │  codes of this client only
 *     ├── CallTimeout        timeout: no answer within the call's timeout (retryable)
 *     ├── CallAborted        aborted: the call's AbortSignal fired
 *     ├── BufferFull         buffer_full: maxEnqueuedMessages frames wait already (retryable)
 *     ├── ConnectFailed      connect_failed: no socket could be opened (retryable)
 *     ├── HandshakeRejected  handshake_rejected: the hub refused the upgrade, or no roost.v1
 *     ├── ConnectionClosed   connection_closed: closed for good, no reconnect
 *     │  codes of database objects (docs/databases.md)
 *     ├── NoSuchDatabase     no_such_database: no database of that name (or it was deleted)
 *     ├── DatabaseExists     database_exists: creating a database whose name is taken
 *     ├── ReadOnly           read_only: a read-only token tried to write
 *     ├── QueryError         query_error: SQLite rejected the statement (its message is given)
 *     ├── ResultTooLarge     result_too_large: over the hub's row or byte limit of one answer
 *     ├── MigrationConflict  migration_conflict: an applied migration's SQL changed
 *     └── StatementNotAllowed  statement_not_allowed: the authorizer refused the statement
 */

import type { ErrorFrame } from "./frames.js";

/** One error code: may the same frame succeed if sent again, which close code follows. */
export interface ErrorRow {
  readonly retryable: boolean;
  /** The close code that goes with the error (the hub closes the socket), or null. */
  readonly close: number | null;
  /** True for codes no hub sends (the client makes them). */
  readonly clientOnly: boolean;
}

function row(retryable: boolean, close: number | null = null, clientOnly = false): ErrorRow {
  return Object.freeze({ retryable, close, clientOnly });
}

/** The error codes of SPEC §7.2, then the client-side ones (shared with the Python SDK). */
export const ERRORS = Object.freeze({
  bad_frame: row(false),
  session_required: row(false),
  message_too_big: row(false, 1009),
  method_not_found: row(false),
  invalid_arguments: row(false),
  object_error: row(false),
  activation_failed: row(false),
  overloaded: row(false),
  call_cycle: row(false),
  object_aborted: row(true),
  no_such_feed: row(false),
  bad_subscription: row(false),
  forbidden: row(false),
  too_many_subscriptions: row(false),
  unauthorized: row(false), // the object refused setAuth's token; HTTP 401 for the admin API
  hub_stopping: row(true),
  internal_error: row(true, 1011),
  // Told by a close code alone, or answering HTTP requests (never in an error frame).
  websocket_protocol_error: row(false, 1002),
  invalid_utf8: row(false, 1007),
  bad_request: row(false),
  not_found: row(false),
  method_not_allowed: row(false),
  request_timeout: row(true),
  uri_too_long: row(false),
  unsupported_media_type: row(false),
  headers_too_large: row(false),
  unknown_binding: row(false),
  invalid_id: row(false),
  fetch_not_implemented: row(false),
  configuration_error: row(false),
  storage_error: row(false),
  sql_error: row(false),
  not_serializable: row(false),
  limit_exceeded: row(false),
  connection_lost: row(true, null, true),
  timeout: row(true, null, true),
  aborted: row(false, null, true),
  buffer_full: row(true, null, true),
  connect_failed: row(true, null, true),
  handshake_rejected: row(false, null, true),
  connection_closed: row(false, null, true),
  // Database objects (docs/databases.md).
  no_such_database: row(false),
  database_exists: row(false),
  read_only: row(false),
  query_error: row(false),
  result_too_large: row(false),
  migration_conflict: row(false),
  statement_not_allowed: row(false),
} satisfies Record<string, ErrorRow>);

/** A code of the table; a newer hub may send others, hence `string` too. */
export type ErrorCode = keyof typeof ERRORS;

/** Close codes the hub uses (SPEC §7.3): what they mean, whether a client reconnects. */
export const CLOSE_CODES: Readonly<Record<number, { readonly meaning: string; readonly reconnect: boolean }>> =
  Object.freeze({
    1000: { meaning: "normal closure", reconnect: false },
    1001: { meaning: "going away: the hub is stopping", reconnect: true },
    1002: { meaning: "protocol error", reconnect: false },
    1006: { meaning: "connection dropped", reconnect: true },
    1007: { meaning: "invalid UTF-8", reconnect: false },
    1008: { meaning: "slow consumer", reconnect: true },
    1009: { meaning: "message too big", reconnect: false },
    1011: { meaning: "unexpected condition in the hub", reconnect: true },
    1012: { meaning: "service restart", reconnect: true },
    1013: { meaning: "object overloaded, try again later", reconnect: true },
  });

/**
 * Whether to reconnect after the socket closed with `code` (SPEC §7.3): after 1001, 1006,
 * 1008, 1011, 1012 and 1013, unless the client closed it. Never after anything else: 1000
 * and 3000-4999 mean the object closed it on purpose, and after 1002, 1007 or 1009 the
 * same frames would meet the same answer.
 */
export function shouldReconnect(code: number, closedByClient = false): boolean {
  return !closedByClient && (CLOSE_CODES[code]?.reconnect ?? false);
}

/** What a `RoostError` is made of, beyond its code and message. */
export interface RoostErrorInit {
  retryable?: boolean;
  closeCode?: number | null;
  remote?: boolean;
  id?: number | null;
  cause?: unknown;
}

/** The root of every error of roost-client. */
export class RoostError extends Error {
  /** Stable machine code: one of `ERRORS`, or a code a newer hub sent. */
  readonly code: ErrorCode | (string & {});
  /** Whether the same operation may succeed if tried again. */
  readonly retryable: boolean;
  /** The close code of the socket close this error reports, if any. */
  readonly closeCode: number | null;
  /** True when the hub sent this error in an `error` frame. */
  readonly remote: boolean;
  /** The `msg`, `call` or `sub` id the error answers, or null. */
  readonly id: number | null;

  constructor(code: string, message: string, init: RoostErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = init.retryable ?? errorRow(code)?.retryable ?? false;
    this.closeCode = init.closeCode ?? errorRow(code)?.close ?? null;
    this.remote = init.remote ?? false;
    this.id = init.id ?? null;
  }
}

/** `bad_frame`: a frame broke protocol/SPEC.md (ours, or one the hub sent). */
export class BadFrame extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("bad_frame", message, init);
  }
}

/** `session_required`: a second hello, or a message with an id before hello. */
export class SessionRequired extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("session_required", message, init);
  }
}

/** `message_too_big`: a frame over the message limit (refused locally, or closed with 1009). */
export class MessageTooBig extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("message_too_big", message, init);
  }
}

/** `method_not_found`: no public method of that name (private and lifecycle names included). */
export class MethodNotFound extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("method_not_found", message, init);
  }
}

/** `invalid_arguments`: the arguments do not match the method's annotations; it did not run. */
export class InvalidArguments extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("invalid_arguments", message, init);
  }
}

/** `object_error`: the object's code raised; its writes rolled back. */
export class ObjectError extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("object_error", message, init);
  }
}

/** `activation_failed`: the object's constructor raised; the next frame tries again. */
export class ActivationFailed extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("activation_failed", message, init);
  }
}

/** `overloaded`: the object's queue is full. */
export class Overloaded extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("overloaded", message, init);
  }
}

/** `call_cycle`: the call would deadlock on the object's input gate. */
export class CallCycle extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("call_cycle", message, init);
  }
}

/** `object_aborted`: the object was reset (`ctx.abort`) during the call; retry it. */
export class ObjectAborted extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("object_aborted", message, init);
  }
}

/** `no_such_feed`: a subscription names a table that is not (or no longer) a feed table of the object. */
export class NoSuchFeed extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("no_such_feed", message, init);
  }
}

/** `bad_subscription`: an invalid `where` or `columns`, an unknown column, or both `snapshot` and `since`. */
export class BadSubscription extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("bad_subscription", message, init);
  }
}

/** `forbidden`: the object refused the subscription. */
export class Forbidden extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("forbidden", message, init);
  }
}

/** `too_many_subscriptions`: the socket already has the most subscriptions the hub allows. */
export class TooManySubscriptions extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("too_many_subscriptions", message, init);
  }
}

/** `unauthorized`: the object's `websocket_auth` refused the token `setAuth` sent. */
export class Unauthorized extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("unauthorized", message, init);
  }
}

/** `hub_stopping`: the hub is shutting down and refused the frame (retryable). */
export class HubStopping extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("hub_stopping", message, init);
  }
}

/** `internal_error`: a fault inside the hub; no detail is given (retryable). */
export class InternalError extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("internal_error", message, init);
  }
}

/**
 * `connection_lost`: the socket closed before the answer arrived (retryable). A call
 * failed with this may or may not have run (calls are at most once, SPEC §6.4).
 */
export class ConnectionLost extends RoostError {
  /** The close reason the socket reported, if any. */
  readonly reason: string;

  constructor(message: string, init: RoostErrorInit & { reason?: string } = {}) {
    super("connection_lost", message, init);
    this.reason = init.reason ?? "";
  }
}

/** `timeout`: a call got no answer within its timeout (the method may still run). */
export class CallTimeout extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("timeout", message, init);
  }
}

/** `aborted`: the call's `AbortSignal` fired (the method may still run). */
export class CallAborted extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("aborted", message, init);
  }
}

/** `buffer_full`: `maxEnqueuedMessages` frames wait already; nothing was queued. */
export class BufferFull extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("buffer_full", message, init);
  }
}

/** `connect_failed`: no socket could be opened (network error, timeout, retries exhausted). */
export class ConnectFailed extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("connect_failed", message, init);
  }
}

/**
 * `handshake_rejected`: the hub refused the WebSocket upgrade with HTTP `status`, or
 * accepted it without selecting `roost.v1` (`status` null). Retryable only for 408, 429
 * and 5xx. Browsers hide the status of a refused upgrade: there it is a `connect_failed`.
 */
export class HandshakeRejected extends RoostError {
  readonly status: number | null;

  constructor(message: string, status: number | null, init: RoostErrorInit = {}) {
    const retryable = status !== null && (status >= 500 || status === 408 || status === 429);
    super("handshake_rejected", message, { retryable, ...init });
    this.status = status;
  }
}

/** `connection_closed`: the connection is closed for good and will not reconnect. */
export class ConnectionClosed extends RoostError {
  /** The reason of the close that ended it, if any. */
  readonly reason: string;

  constructor(message: string, init: RoostErrorInit & { reason?: string } = {}) {
    super("connection_closed", message, init);
    this.reason = init.reason ?? "";
  }
}

/** `no_such_database`: no database of that name, or it was deleted. */
export class NoSuchDatabase extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("no_such_database", message, init);
  }
}

/** `database_exists`: a database of that name exists already (creating it again). */
export class DatabaseExists extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("database_exists", message, init);
  }
}

/** `read_only`: a read-only token tried to write; SQLite refused it and nothing changed. */
export class ReadOnly extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("read_only", message, init);
  }
}

/** `query_error`: SQLite rejected the statement; the message is SQLite's. */
export class QueryError extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("query_error", message, init);
  }
}

/** `result_too_large`: the answer would be over the hub's row or byte limit; nothing was returned (use a limit). */
export class ResultTooLarge extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("result_too_large", message, init);
  }
}

/** `migration_conflict`: a migration applied before has different SQL now. */
export class MigrationConflict extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("migration_conflict", message, init);
  }
}

/**
 * `statement_not_allowed`: SQLite's authorizer refused the statement (the hub's `_roost_*`
 * tables, `ATTACH`, transaction control, most pragmas).
 */
export class StatementNotAllowed extends RoostError {
  constructor(message: string, init: RoostErrorInit = {}) {
    super("statement_not_allowed", message, init);
  }
}

type ErrorClass = new (message: string, init?: RoostErrorInit) => RoostError;

/** The one map from a code the hub sends to its class. */
export const CODES: Readonly<Record<string, ErrorClass>> = Object.freeze({
  bad_frame: BadFrame,
  session_required: SessionRequired,
  message_too_big: MessageTooBig,
  method_not_found: MethodNotFound,
  invalid_arguments: InvalidArguments,
  object_error: ObjectError,
  activation_failed: ActivationFailed,
  overloaded: Overloaded,
  call_cycle: CallCycle,
  object_aborted: ObjectAborted,
  no_such_feed: NoSuchFeed,
  bad_subscription: BadSubscription,
  forbidden: Forbidden,
  too_many_subscriptions: TooManySubscriptions,
  unauthorized: Unauthorized,
  hub_stopping: HubStopping,
  internal_error: InternalError,
  connection_lost: ConnectionLost,
  no_such_database: NoSuchDatabase,
  database_exists: DatabaseExists,
  read_only: ReadOnly,
  query_error: QueryError,
  result_too_large: ResultTooLarge,
  migration_conflict: MigrationConflict,
  statement_not_allowed: StatementNotAllowed,
});

/** The row of `code`, or undefined for a code this SDK does not know. */
export function errorRow(code: string): ErrorRow | undefined {
  return Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode] : undefined;
}

/**
 * The exception for a hub `error` frame (SPEC §7.1), keeping the hub's `retryable`. A
 * code this SDK does not know becomes a plain `RoostError` with that code.
 */
export function fromFrame(frame: ErrorFrame): RoostError {
  const init: RoostErrorInit = { retryable: frame.retryable, remote: true, id: frame.id };
  const ErrorClass = Object.hasOwn(CODES, frame.code) ? CODES[frame.code] : undefined;
  return ErrorClass === undefined ? new RoostError(frame.code, frame.message, init) : new ErrorClass(frame.message, init);
}

/**
 * The error that reports a close for good with `code` (one that `shouldReconnect`
 * refused), or null for a normal close by the object (1000). An error frame the hub sent
 * just before, whose code the table links to this close code, is the report; a close
 * code the table links to an error code (1009: `message_too_big`) is reported as that
 * error even without the frame; anything else is `ConnectionClosed`.
 */
export function errorForClose(code: number, reason: string, last: RoostError | null): RoostError | null {
  if (last !== null && errorRow(last.code)?.close === code) return last;
  const meaning = CLOSE_CODES[code]?.meaning ?? (code >= 3000 && code <= 4999 ? "closed by the object" : "unknown code");
  const message = `the hub closed the connection with ${code} (${meaning})${reason ? `: ${JSON.stringify(reason)}` : ""}`;
  for (const [errorCode, row] of Object.entries(ERRORS)) {
    const ErrorClass = CODES[errorCode];
    if (row.close === code && ErrorClass !== undefined) return new ErrorClass(message, { closeCode: code });
  }
  if (code === 1000) return null;
  return new ConnectionClosed(message, { closeCode: code, reason });
}
