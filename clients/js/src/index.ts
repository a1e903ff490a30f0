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
 *     await room.close();
 */

export { Backoff, BACKOFF_DEFAULTS, type BackoffOptions } from "./backoff.js";
export {
  type Ack,
  type Call,
  type ClientFrame,
  type ClientMessage,
  type ErrorFrame,
  type Hello,
  type HubFrame,
  type HubMessage,
  type Json,
  MAX_ID,
  type Ping,
  type Pong,
  type Result,
  SESSION_PATTERN,
  SUBPROTOCOL,
  type Welcome,
  decodeClient,
  decodeHub,
  encode,
  isId,
  utf8Length,
} from "./codec.js";
export { Connection, connect } from "./connection.js";
export {
  type CallOptions,
  type ConnectOptions,
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
  BufferFull,
  CLOSE_CODES,
  CODES,
  CallAborted,
  CallCycle,
  CallTimeout,
  ConnectFailed,
  ConnectionClosed,
  ConnectionLost,
  ERRORS,
  type ErrorCode,
  type ErrorRow,
  FrameTooLarge,
  HandshakeRejected,
  HubStopping,
  InternalError,
  InvalidArguments,
  MethodNotFound,
  ObjectError,
  Overloaded,
  RoostError,
  type RoostErrorInit,
  SessionRequired,
  errorForClose,
  errorRow,
  fromFrame,
  shouldReconnect,
} from "./errors.js";
export {
  CloseEvent,
  type ConnectionEventMap,
  ConnectionEventTarget,
  type ConnectionState,
  ErrorEvent,
  MessageEvent,
  OpenEvent,
  StateEvent,
} from "./events.js";
export { type Entry, Outbox } from "./outbox.js";
export { type AddressOptions, type QueryParams, kebab, objectUrl, withQuery } from "./url.js";
