/**
 * The frames of roost.v1 (protocol/SPEC.md §2-§10) as types, and the constants of the
 * wire: what `codec.ts` decodes to and encodes from (protocol/frames.py on the Python
 * side). Types only, apart from three constants.
 */

/** The subprotocol a client offers in `Sec-WebSocket-Protocol` (SPEC §1.1). */
export const SUBPROTOCOL = "roost.v1";

/** The largest id: `Number.MAX_SAFE_INTEGER`, 2^53 - 1 (SPEC §2.3). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** How deep arrays and objects nest in a frame, the frame object being level 1 (SPEC §2.6). */
export const MAX_NESTING = 64;

/** What a session id looks like (SPEC §3.1). */
export const SESSION_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// -- client -> hub -----------------------------------------------------------------------

/** Start or resume a session; the first frame on every socket (SPEC §3.1). */
export interface Hello {
  t: "hello";
  session: string;
}

/** An application message; exactly once when it has an `id` (SPEC §4.1, §4.2). */
export interface ClientMessage {
  t: "msg";
  data: Json;
  id?: number;
}

/** Call a public method of the object (SPEC §6.1). */
export interface Call {
  t: "call";
  id: number;
  method: string;
  args: Json[];
  kwargs: { [key: string]: Json };
}

/**
 * Refresh the session's credentials (SPEC §6): the hub runs the object's
 * `websocket_auth(ws, token)` and answers `result` or `error` with `id`, a call id.
 */
export interface Auth {
  t: "auth";
  id: number;
  token: string;
}

/** Keep-alive; the hub answers `pong` (SPEC §8). */
export interface Ping {
  t: "ping";
}

/** A scalar of a `where` condition (SPEC §9.4). */
export type Scalar = null | boolean | number | string;

/** The operators of a `where` condition (SPEC §9.4). */
export type WhereOp = "eq" | "neq" | "lt" | "lte" | "gt" | "gte" | "in" | "like";

/** One condition of a `where`: `[column, op, value]`, or `{or: [where, ...]}` (SPEC §9.4). */
export type Condition = [column: string, op: WhereOp, value: Scalar | Scalar[]] | { or: Where[] };

/** The wire form of a subscription's filter: conditions that must all hold (SPEC §9.4). */
export type Where = Condition[];

/** Subscribe to a feed table (SPEC §9.3); at most one of `snapshot` and `since`. */
export interface Sub {
  t: "sub";
  id: number;
  table: string;
  /** As sent; the decoder checks only that it is an array (the hub judges the rest). */
  where: Json[];
  columns?: string[];
  snapshot: boolean;
  since?: number;
}

/** End a subscription (SPEC §9.10). */
export interface Unsub {
  t: "unsub";
  id: number;
}

/** Ask for the member list and its changes (SPEC §10.2). */
export interface PresenceSub {
  t: "presence_sub";
}

/** Stop the presence frames (SPEC §10.3). */
export interface PresenceUnsub {
  t: "presence_unsub";
}

export type ClientFrame = Hello | ClientMessage | Call | Auth | Ping | Sub | Unsub | PresenceSub | PresenceUnsub;

// -- hub -> client -----------------------------------------------------------------------

/** The answer to `hello` (SPEC §3.2). */
export interface Welcome {
  t: "welcome";
  session: string;
  socket: number;
}

/** What the object sent with `ws.send(str)` / `ctx.broadcast(str)` (SPEC §4.3). */
export interface HubMessage {
  t: "msg";
  data: string;
}

/** Message `id` of this session is handled (SPEC §4.5). */
export interface Ack {
  t: "ack";
  id: number;
}

/** Call `id` returned `result` after its event committed (SPEC §6.2). */
export interface Result {
  t: "result";
  id: number;
  result: Json;
}

/** A call, a message or a frame failed, with a stable code (SPEC §7.1). */
export interface ErrorFrame {
  t: "error";
  id: number | null;
  code: string;
  message: string;
  retryable: boolean;
}

/** The answer to `ping` (SPEC §8). */
export interface Pong {
  t: "pong";
}

/** A row of a feed table: its columns by name (SPEC §9.2). */
export type Row = { [column: string]: Json };

/** Rows of a subscription's snapshot, as of change `seq` (SPEC §9.6). */
export interface Snapshot {
  t: "snapshot";
  id: number;
  seq: number;
  rows: Row[];
}

/** What a change did to its row (SPEC §9.6). */
export type ChangeOp = "insert" | "update" | "delete";

/** One change of a `changes` frame (SPEC §9.6); for `delete`, the row as it was. */
export interface ChangeItem {
  seq: number;
  op: ChangeOp;
  row: Row;
}

/** Replayed or live changes of a subscription, in `seq` order (SPEC §9.6). */
export interface Changes {
  t: "changes";
  id: number;
  changes: ChangeItem[];
}

/** The snapshot or replay is complete; live changes above `seq` follow (SPEC §9.6). */
export interface Subscribed {
  t: "subscribed";
  id: number;
  seq: number;
}

/** The subscription ended: changes it needs are gone; subscribe again with a snapshot (SPEC §9.6). */
export interface Reset {
  t: "reset";
  id: number;
}

/** A socket in the object's presence, with its state (SPEC §10.2). */
export interface Member {
  socket: number;
  state: Json;
}

/** The member list (`{"t": "presence"}`), in the order the members joined (SPEC §10.2). */
export interface PresenceList {
  t: "presence";
  members: Member[];
}

/** Socket `socket` became a member (SPEC §10.2). */
export interface Join {
  t: "join";
  socket: number;
  state: Json;
}

/** Member `socket`'s state changed (SPEC §10.2). */
export interface Update {
  t: "update";
  socket: number;
  state: Json;
}

/** Member `socket` left (SPEC §10.2). */
export interface Leave {
  t: "leave";
  socket: number;
}

/** The frames about a subscription (SPEC §9.6), errors aside. */
export type FeedFrame = Snapshot | Changes | Subscribed | Reset;

/** The frames about presence (SPEC §10.2). */
export type PresenceFrame = PresenceList | Join | Update | Leave;

export type HubFrame = Welcome | HubMessage | Ack | Result | ErrorFrame | Pong | FeedFrame | PresenceFrame;
