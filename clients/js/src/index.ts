/**
 * roost-client: the JavaScript client of Roost hubs over the roost.v1 subprotocol
 * (protocol/SPEC.md). ESM, no runtime dependency; browsers and Node >= 20 (pass the
 * `ws` package as the `WebSocket` option where there is no global `WebSocket`).
 *
 *     import { connect } from "roost-client";
 *     const room = await connect({ host: "127.0.0.1:8787", party: "chat-room", room: "lobby" });
 *     room.addEventListener("message", (event) => console.log(event.data));
 *     await room.send({ text: "hi" });            // exactly once, resolves when acknowledged
 *     const n = await room.call("count");         // RPC
 *     for await (const message of room) { ... }   // or iterate
 *     const todos = room.subscribe("todos", { where: { done: false }, snapshot: true });
 *     for await (const change of todos) { ... }   // { seq, op, row }, resumed after reconnects
 *     room.presence.addEventListener("join", (event) => console.log(event.detail.socket));
 *     await room.close();
 *
 * Database objects (docs/databases.md): `database(url, name, { token })` for the data
 * verbs, tables and feeds; `admin(url, adminKey)` to provision them.
 */

export { Backoff, BACKOFF_DEFAULTS, type BackoffOptions } from "./backoff.js";
export {
  type Ack,
  type Auth,
  type Call,
  type ChangeItem,
  type ChangeOp,
  type Changes,
  type ClientFrame,
  type ClientMessage,
  type Condition,
  type ErrorFrame,
  type FeedFrame,
  type Hello,
  type HubFrame,
  type HubMessage,
  type Join,
  type Json,
  type Leave,
  MAX_ID,
  MAX_NESTING,
  type Member,
  type Ping,
  type Pong,
  type PresenceFrame,
  type PresenceList,
  type PresenceSub,
  type PresenceUnsub,
  type Reset,
  type Result,
  type Row,
  type Scalar,
  SESSION_PATTERN,
  SUBPROTOCOL,
  type Snapshot,
  type Sub,
  type Subscribed,
  type Unsub,
  type Update,
  type Welcome,
  type Where,
  type WhereOp,
} from "./frames.js";
export { decodeClient, decodeHub, encode, isId, utf8Length } from "./codec.js";
export { Connection, connect } from "./connection.js";
export {
  type FeedRequest,
  type SubscribeOptions,
  Subscription,
  type SubscriptionState,
  feedRequest,
  whereConditions,
} from "./feeds.js";
export { Presence, type PresenceChange, presenceDiff, sameJson } from "./presence.js";
export {
  type CallOptions,
  type ConnectOptions,
  type DebugLogger,
  DEFAULTS,
  type SendData,
  type SendOptions,
  type WebSocketConstructor,
  type WebSocketLike,
  randomSession,
} from "./options.js";
export { type Incoming } from "./inbox.js";
export {
  ActivationFailed,
  BadFrame,
  BadSubscription,
  BufferFull,
  CLOSE_CODES,
  CODES,
  CallAborted,
  CallCycle,
  ObjectAborted,
  CallTimeout,
  ConnectFailed,
  ConnectionClosed,
  ConnectionLost,
  ERRORS,
  type ErrorCode,
  type ErrorRow,
  Forbidden,
  MessageTooBig,
  HandshakeRejected,
  HubStopping,
  InternalError,
  InvalidArguments,
  MethodNotFound,
  NoSuchFeed,
  ObjectError,
  Overloaded,
  RoostError,
  type RoostErrorInit,
  SessionRequired,
  TooManySubscriptions,
  Unauthorized,
  NoSuchDatabase,
  DatabaseExists,
  ReadOnly,
  QueryError,
  ResultTooLarge,
  MigrationConflict,
  StatementNotAllowed,
  errorForClose,
  errorRow,
  fromFrame,
  shouldReconnect,
} from "./errors.js";
export {
  type Change,
  ChangeEvent,
  CloseEvent,
  type ConnectionEventMap,
  ConnectionEventTarget,
  type ConnectionState,
  ErrorEvent,
  MessageEvent,
  OpenEvent,
  PresenceEvent,
  type PresenceEventMap,
  type PresenceMember,
  PresenceSyncEvent,
  StateEvent,
  type SubscriptionEventMap,
  TypedEventTarget,
} from "./events.js";
export { type Entry, Outbox } from "./outbox.js";
export { type AddressOptions, type QueryParams, kebab, objectUrl, withQuery } from "./url.js";
export { Database, type DatabaseOptions, type DatabaseSubscribeOptions, type SocketOptions, type Statement, database } from "./database.js";
export { type OrderDirection, type SelectArguments, Table, type TablePort, type Values } from "./table.js";
export { WHERE_OPS, type WhereInput, type WhereObject, type WhereOps, whereArray } from "./where.js";
export {
  Admin,
  type CreatedDatabase,
  type CreatedToken,
  type DatabaseInfo,
  type DatabaseSummary,
  type RotatedToken,
  type TokenInfo,
  admin,
} from "./admin.js";
export { type Credential, type FetchLike, HttpClient, type HttpOptions } from "./http.js";
export {
  type DatabaseHealth,
  type DatabaseStats,
  type DbRow,
  type MigrateResult,
  type Migration,
  type MigrationInput,
  type Migrations,
  type Param,
  QueryResult,
  type RestorePoint,
  type Restored,
  type TableStats,
  type Value,
} from "./results.js";
