/**
 * The frames of roost.v1 (protocol/SPEC.md §2-§8): types, decoding with validation, and
 * encoding. Sans-I/O: no socket, no timer.
 *
 * Rules:
 *
 * 1. `decodeHub` / `decodeClient` throw only `BadFrame` (code `bad_frame`), whatever
 *    the text. A decoded frame has every member, defaults filled (`args: []`,
 *    `kwargs: {}`), and absent optional members left out; unknown members are dropped
 *    (SPEC §2.2).
 * 2. `encode` writes compact JSON with members in a fixed order (the order of the shared
 *    vectors, protocol/vectors/*.json), leaving out optional members that are absent and
 *    `args` / `kwargs` when empty, so the Python and JS encodings of a frame are the same
 *    text.
 * 3. Integers are non-negative safe integers (SPEC §2.3); anything else is invalid.
 */

import { BadFrame } from "./errors.js";

/** The subprotocol a client offers in `Sec-WebSocket-Protocol` (SPEC §1.1). */
export const SUBPROTOCOL = "roost.v1";

/** The largest id: `Number.MAX_SAFE_INTEGER`, 2^53 - 1 (SPEC §2.3). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

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

/** Keep-alive; the hub answers `pong` (SPEC §8). */
export interface Ping {
  t: "ping";
}

export type ClientFrame = Hello | ClientMessage | Call | Ping;

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

export type HubFrame = Welcome | HubMessage | Ack | Result | ErrorFrame | Pong;

// -- decoding ----------------------------------------------------------------------------

type Members = { readonly [key: string]: unknown };

/** The members whose raw text matters: `JSON.parse` reads `1.0` as 1, and keeps the last `t`. */
const RAW_KEYS: ReadonlySet<string> = new Set(["t", "id", "socket"]);

/** A parsed frame, with its text for the checks `JSON.parse` cannot make. */
class Parsed {
  readonly members: Members;
  readonly text: string;
  #raw: Map<string, string[]> | undefined;

  constructor(members: Members, text: string) {
    this.members = members;
    this.text = text;
  }

  /** Every raw value text of top-level member `key` (one of RAW_KEYS), in order. */
  raw(key: string): string[] {
    this.#raw ??= rawMembers(this.text, RAW_KEYS);
    return this.#raw.get(key) ?? [];
  }
}

function parse(text: string): Parsed {
  if (typeof text !== "string") throw new BadFrame(`frame is not text: ${typeof text}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadFrame("JSON is malformed");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
    throw new BadFrame(`frame is not a JSON object: got ${kind}`);
  }
  return new Parsed(value as Members, text);
}

// A scanner over text that JSON.parse accepted as an object: it finds the raw text of
// chosen top-level member values, skipping everything else without decoding it.

function skipSpace(text: string, i: number): number {
  let j = i;
  for (let c = text.charCodeAt(j); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++j));
  return j;
}

/** The index after the string token starting at `i` (a quote). */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    j = text.indexOf('"', j);
    let slashes = 0;
    while (text.charCodeAt(j - 1 - slashes) === 92) slashes += 1;
    if (slashes % 2 === 0) return j + 1;
    j += 1;
  }
}

/** The index after the value token starting at `i`. */
function valueEnd(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return stringEnd(text, i);
  if (first === "{" || first === "[") {
    let depth = 0;
    for (let j = i; ; ) {
      const c = text[j];
      if (c === '"') {
        j = stringEnd(text, j);
        continue;
      }
      if (c === "{" || c === "[") depth += 1;
      else if ((c === "}" || c === "]") && --depth === 0) return j + 1;
      j += 1;
    }
  }
  let j = i;
  while (j < text.length && !",}] \t\n\r".includes(text[j] as string)) j += 1;
  return j;
}

/** The raw texts of the top-level members named in `keys`, every occurrence in order. */
function rawMembers(text: string, keys: ReadonlySet<string>): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let i = skipSpace(text, 0) + 1; // after "{"
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] !== '"') return found; // the "}" of an empty object
    const keyEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    const start = skipSpace(text, skipSpace(text, keyEnd) + 1); // past ":"
    const end = valueEnd(text, start);
    if (keys.has(key)) {
      const values = found.get(key) ?? [];
      values.push(text.slice(start, end));
      found.set(key, values);
    }
    i = skipSpace(text, end);
    if (text[i] !== ",") return found;
    i += 1;
  }
}

/** An integer literal: no fraction, no exponent (SPEC §2.3: `1.0` is a float). */
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

function has(frame: Parsed, key: string): boolean {
  return Object.hasOwn(frame.members, key);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function required(frame: Parsed, key: string): unknown {
  if (!has(frame, key)) throw new BadFrame(`${describe(frame.members.t)} frame without ${key}`);
  return frame.members[key];
}

/** Whether `value` is an integer of SPEC §2.3: non-negative and at most 2^53 - 1. */
export function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function id(frame: Parsed, key = "id"): number {
  const value = required(frame, key);
  // Every occurrence counts, as in the hub's decoder: `{"id":1.0,"id":1}` is invalid too.
  const raws = frame.raw(key);
  if (!isId(value) || raws.some((raw) => !INTEGER.test(raw) || !isId(Number(raw)))) {
    const got = raws.find((raw) => !INTEGER.test(raw) || !isId(Number(raw))) ?? describe(value);
    throw new BadFrame(`${key} must be an integer from 0 to ${MAX_ID}, got ${got}`);
  }
  return value + 0; // -0 is the integer 0
}

function string(frame: Parsed, key: string): string {
  const value = required(frame, key);
  if (typeof value !== "string") {
    throw new BadFrame(`${key} must be a string, got ${describe(value)}`);
  }
  return value;
}

function session(frame: Parsed): string {
  const value = string(frame, "session");
  if (!SESSION_PATTERN.test(value)) {
    throw new BadFrame(
      `session must be 1 to 128 characters of [A-Za-z0-9_-], got ${describe(value)}`,
    );
  }
  return value;
}

function type(frame: Parsed): string {
  const value = frame.members.t;
  if (typeof value !== "string") throw new BadFrame(`t must be a string, got ${describe(value)}`);
  // JSON.parse keeps the last of two "t" members; two different ones make no frame.
  const text = frame.text;
  if (text.indexOf('"t"') !== text.lastIndexOf('"t"') || text.includes("\\u")) {
    const types = new Set(frame.raw("t").map((raw) => JSON.parse(raw) as unknown));
    if (types.size > 1) throw new BadFrame(`t is given twice, with different values: ${describe([...types])}`);
  }
  return value;
}

function unknownType(t: string, direction: string): BadFrame {
  return new BadFrame(`unknown ${direction} frame type ${describe(t)}`);
}

/** A hub -> client frame, or `BadFrame`. */
export function decodeHub(text: string): HubFrame {
  const frame = parse(text);
  const t = type(frame);
  switch (t) {
    case "welcome":
      return { t, session: session(frame), socket: id(frame, "socket") };
    case "msg":
      return { t, data: string(frame, "data") };
    case "ack":
      return { t, id: id(frame) };
    case "result": {
      const callId = id(frame);
      return { t, id: callId, result: required(frame, "result") as Json };
    }
    case "error": {
      const errorId = required(frame, "id") === null ? null : id(frame);
      const code = string(frame, "code");
      const message = string(frame, "message");
      const retryable = required(frame, "retryable");
      if (typeof retryable !== "boolean") {
        throw new BadFrame(`retryable must be a boolean, got ${describe(retryable)}`);
      }
      return { t, id: errorId, code, message, retryable };
    }
    case "pong":
      return { t };
    default:
      throw unknownType(t, "hub");
  }
}

/** A client -> hub frame, or `BadFrame` (what the hub checks; used by tests and tools). */
export function decodeClient(text: string): ClientFrame {
  const frame = parse(text);
  const t = type(frame);
  switch (t) {
    case "hello":
      return { t, session: session(frame) };
    case "msg": {
      const data = required(frame, "data") as Json;
      return has(frame, "id") ? { t, data, id: id(frame) } : { t, data };
    }
    case "call": {
      const callId = id(frame);
      const method = string(frame, "method");
      const args = has(frame, "args") ? frame.members.args : [];
      if (!Array.isArray(args)) throw new BadFrame(`args must be an array, got ${describe(args)}`);
      const kwargs = has(frame, "kwargs") ? frame.members.kwargs : {};
      if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs)) {
        throw new BadFrame(`kwargs must be an object, got ${describe(kwargs)}`);
      }
      return { t, id: callId, method, args: args as Json[], kwargs: kwargs as Call["kwargs"] };
    }
    case "ping":
      return { t };
    default:
      throw unknownType(t, "client");
  }
}

// -- encoding ----------------------------------------------------------------------------

function json(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} is not JSON: ${typeof value}`);
  return text;
}

function checkId(value: number, what: string): number {
  if (!isId(value)) throw new RangeError(`${what} must be an integer from 0 to ${MAX_ID}, got ${value}`);
  return value;
}

function isEmpty(value: object): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return false;
  return true;
}

/**
 * Compact JSON text of `frame`, members in the order of the shared vectors. Throws
 * `TypeError` for data that is not JSON (a function, a BigInt, a cycle) and `RangeError`
 * for an id out of range.
 */
export function encode(frame: ClientFrame | HubFrame): string {
  switch (frame.t) {
    case "hello":
      return `{"t":"hello","session":${json(frame.session, "session")}}`;
    case "msg": {
      const data = json(frame.data, "message data");
      if ("id" in frame && frame.id !== undefined) {
        return `{"t":"msg","data":${data},"id":${checkId(frame.id, "message id")}}`;
      }
      return `{"t":"msg","data":${data}}`;
    }
    case "call": {
      let text = `{"t":"call","id":${checkId(frame.id, "call id")},"method":${json(frame.method, "method")}`;
      if (frame.args.length > 0) text += `,"args":${json(frame.args, "args")}`;
      if (!isEmpty(frame.kwargs)) text += `,"kwargs":${json(frame.kwargs, "kwargs")}`;
      return `${text}}`;
    }
    case "ping":
      return `{"t":"ping"}`;
    case "welcome":
      return `{"t":"welcome","session":${json(frame.session, "session")},"socket":${checkId(frame.socket, "socket")}}`;
    case "ack":
      return `{"t":"ack","id":${checkId(frame.id, "id")}}`;
    case "result":
      return `{"t":"result","id":${checkId(frame.id, "id")},"result":${json(frame.result, "result")}}`;
    case "error": {
      const errorId = frame.id === null ? "null" : String(checkId(frame.id, "id"));
      return (
        `{"t":"error","id":${errorId},"code":${json(frame.code, "code")},` +
        `"message":${json(frame.message, "message")},"retryable":${frame.retryable ? "true" : "false"}}`
      );
    }
    case "pong":
      return `{"t":"pong"}`;
  }
}

/** The size of `text` in UTF-8 bytes (what the hub's message limit counts). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // 2 bytes below U+0800; 3 up to U+FFFF; a surrogate pair (two units) makes 4.
    if (unit >= 0x80) bytes += unit >= 0x800 && (unit < 0xd800 || unit > 0xdfff) ? 2 : 1;
  }
  return bytes;
}
