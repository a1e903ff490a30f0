/**
 * The frames of roost.v1 (protocol/SPEC.md §2-§10, typed in `frames.ts`): decoding with
 * validation, and encoding. Sans-I/O: no socket, no timer.
 *
 * Rules:
 *
 * 1. `decodeHub` / `decodeClient` throw only `BadFrame` (code `bad_frame`), whatever
 *    the text. A decoded frame has every member, defaults filled (`args: []`,
 *    `kwargs: {}`, `where: []`, `snapshot: false`), and absent optional members left
 *    out; unknown members are dropped (SPEC §2.2), in the items of `changes` and
 *    `members` too. A `where` is checked for being an array only: its conditions are
 *    the hub's to judge (`bad_subscription`, SPEC §9.4), not the decoder's.
 * 2. `encode` writes compact JSON with members in a fixed order (the order of the shared
 *    vectors, protocol/vectors/*.json), leaving out optional members that are absent and
 *    `args` / `kwargs` / `where` when empty and `snapshot` when false, so the Python and
 *    JS encodings of a frame are the same text.
 * 3. Integers are non-negative safe integers (SPEC §2.3); anything else is invalid,
 *    nested ones (`changes[].seq`, `members[].socket`) included.
 * 4. A frame nested more than `MAX_NESTING` deep is invalid (SPEC §2.6), as for the
 *    hub's decoder; it is refused before `JSON.parse` sees it.
 */

import { BadFrame } from "./errors.js";
import {
  type ChangeItem,
  type ChangeOp,
  type ClientFrame,
  type Call,
  type HubFrame,
  type Json,
  MAX_ID,
  MAX_NESTING,
  type Member,
  type Row,
  SESSION_PATTERN,
  type Sub,
} from "./frames.js";

// -- decoding ----------------------------------------------------------------------------

type Members = { readonly [key: string]: unknown };

/** The members whose raw text matters: `JSON.parse` reads `1.0` as 1, and keeps the last `t`. */
const RAW_KEYS: ReadonlySet<string> = new Set(["t", "id", "socket", "seq", "since", "changes", "members"]);

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

/** How deep brackets nest in `text` outside strings, if more than `MAX_NESTING`. */
function tooDeep(text: string): number | undefined {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i += 1; // a backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) deepest = Math.max(deepest, (depth += 1));
    else if (c === 93 || c === 125) depth -= 1;
  }
  return deepest > MAX_NESTING ? deepest : undefined;
}

function parse(text: string): Parsed {
  if (typeof text !== "string") throw new BadFrame(`frame is not text: ${typeof text}`);
  const depth = tooDeep(text);
  if (depth !== undefined) throw new BadFrame(`frame nests ${depth} deep, expected at most ${MAX_NESTING}`);
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

/** The raw texts of the elements of the array whose raw text is `text`. */
function rawElements(text: string): string[] {
  const elements: string[] = [];
  let i = skipSpace(text, 0) + 1; // after "["
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] === "]" || i >= text.length) return elements;
    const end = valueEnd(text, i);
    elements.push(text.slice(i, end));
    i = skipSpace(text, end);
    if (text[i] !== ",") return elements;
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

function integerText(raw: string): boolean {
  return INTEGER.test(raw) && isId(Number(raw));
}

/** Some digit is followed by a fraction or an exponent somewhere in the text. */
const FLOATISH = /[0-9][.eE]/;

/**
 * SPEC §2.3 for member `key` of the objects in the top-level array `list` (already
 * checked to be objects whose `key` is a safe integer once parsed): a `1.0` there is
 * invalid too. The text is scanned only if it holds a fraction or an exponent at all.
 */
function nestedIds(frame: Parsed, list: string, key: string): void {
  if (!FLOATISH.test(frame.text)) return;
  const array = frame.raw(list).at(-1);
  if (array === undefined) return;
  const keys = new Set([key]);
  rawElements(array).forEach((element, index) => {
    const bad = rawMembers(element, keys).get(key)?.find((raw) => !integerText(raw));
    if (bad !== undefined) throw new BadFrame(`${list}[${index}].${key} must be an integer from 0 to ${MAX_ID}, got ${bad}`);
  });
}

function isObject(value: unknown): value is { readonly [key: string]: unknown } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function array(frame: Parsed, key: string): unknown[] {
  const value = required(frame, key);
  if (!Array.isArray(value)) throw new BadFrame(`${key} must be an array, got ${describe(value)}`);
  return value;
}

/** Member `key` of item `index` of the array `list`: a safe integer (checked again raw by `nestedIds`). */
function itemId(item: { readonly [key: string]: unknown }, list: string, index: number, key: string): number {
  if (!Object.hasOwn(item, key)) throw new BadFrame(`${list}[${index}] without ${key}`);
  const value = item[key];
  if (!isId(value)) throw new BadFrame(`${list}[${index}].${key} must be an integer from 0 to ${MAX_ID}, got ${describe(value)}`);
  return value + 0;
}

function rows(frame: Parsed): Row[] {
  return array(frame, "rows").map((row, index) => {
    if (!isObject(row)) throw new BadFrame(`rows[${index}] must be an object, got ${describe(row)}`);
    return row as Row;
  });
}

const OPS: ReadonlySet<string> = new Set(["insert", "update", "delete"]);

function changes(frame: Parsed): ChangeItem[] {
  const items = array(frame, "changes").map((item, index): ChangeItem => {
    if (!isObject(item)) throw new BadFrame(`changes[${index}] must be an object, got ${describe(item)}`);
    const seq = itemId(item, "changes", index, "seq");
    const op = item.op;
    if (typeof op !== "string" || !OPS.has(op)) {
      throw new BadFrame(`changes[${index}].op must be insert, update or delete, got ${describe(op)}`);
    }
    const row = item.row;
    if (!isObject(row)) throw new BadFrame(`changes[${index}].row must be an object, got ${describe(row)}`);
    return { seq, op: op as ChangeOp, row: row as Row };
  });
  nestedIds(frame, "changes", "seq");
  return items;
}

function members(frame: Parsed): Member[] {
  const items = array(frame, "members").map((item, index): Member => {
    if (!isObject(item)) throw new BadFrame(`members[${index}] must be an object, got ${describe(item)}`);
    const socket = itemId(item, "members", index, "socket");
    if (!Object.hasOwn(item, "state")) throw new BadFrame(`members[${index}] without state`);
    return { socket, state: item.state as Json };
  });
  nestedIds(frame, "members", "socket");
  return items;
}

function sub(frame: Parsed): Sub {
  const subId = id(frame);
  const table = string(frame, "table");
  const where = has(frame, "where") ? frame.members.where : [];
  if (!Array.isArray(where)) throw new BadFrame(`where must be an array, got ${describe(where)}`);
  const snapshot = has(frame, "snapshot") ? frame.members.snapshot : false;
  if (typeof snapshot !== "boolean") throw new BadFrame(`snapshot must be a boolean, got ${describe(snapshot)}`);
  const decoded: Sub = { t: "sub", id: subId, table, where: where as Json[], snapshot };
  if (has(frame, "columns")) {
    const columns = frame.members.columns;
    if (!Array.isArray(columns) || !columns.every((column) => typeof column === "string")) {
      throw new BadFrame(`columns must be an array of strings, got ${describe(columns)}`);
    }
    decoded.columns = columns as string[];
  }
  if (has(frame, "since")) decoded.since = id(frame, "since");
  return decoded;
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
    case "snapshot": {
      const subId = id(frame);
      const seq = id(frame, "seq");
      return { t, id: subId, seq, rows: rows(frame) };
    }
    case "changes": {
      const subId = id(frame);
      return { t, id: subId, changes: changes(frame) };
    }
    case "subscribed": {
      const subId = id(frame);
      return { t, id: subId, seq: id(frame, "seq") };
    }
    case "reset":
      return { t, id: id(frame) };
    case "presence":
      return { t, members: members(frame) };
    case "join":
    case "update": {
      const socket = id(frame, "socket");
      return { t, socket, state: required(frame, "state") as Json };
    }
    case "leave":
      return { t, socket: id(frame, "socket") };
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
    case "auth": {
      const token = string(frame, "token");
      if (token === "") throw new BadFrame("token must not be empty");
      return { t, id: id(frame), token };
    }
    case "ping":
    case "presence_sub":
    case "presence_unsub":
      return { t };
    case "sub":
      return sub(frame);
    case "unsub":
      return { t, id: id(frame) };
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
    case "auth":
      return `{"t":"auth","id":${checkId(frame.id, "call id")},"token":${json(frame.token, "token")}}`;
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
    case "sub": {
      let text = `{"t":"sub","id":${checkId(frame.id, "subscription id")},"table":${json(frame.table, "table")}`;
      if (frame.where.length > 0) text += `,"where":${json(frame.where, "where")}`;
      if (frame.columns !== undefined) text += `,"columns":${json(frame.columns, "columns")}`;
      if (frame.snapshot) text += `,"snapshot":true`;
      if (frame.since !== undefined) text += `,"since":${checkId(frame.since, "since")}`;
      return `${text}}`;
    }
    case "unsub":
      return `{"t":"unsub","id":${checkId(frame.id, "subscription id")}}`;
    case "presence_sub":
      return `{"t":"presence_sub"}`;
    case "presence_unsub":
      return `{"t":"presence_unsub"}`;
    case "snapshot":
      return `{"t":"snapshot","id":${checkId(frame.id, "id")},"seq":${checkId(frame.seq, "seq")},"rows":${json(frame.rows, "rows")}}`;
    case "changes": {
      const items = frame.changes.map(
        (change) =>
          `{"seq":${checkId(change.seq, "seq")},"op":${json(change.op, "op")},"row":${json(change.row, "row")}}`,
      );
      return `{"t":"changes","id":${checkId(frame.id, "id")},"changes":[${items.join(",")}]}`;
    }
    case "subscribed":
      return `{"t":"subscribed","id":${checkId(frame.id, "id")},"seq":${checkId(frame.seq, "seq")}}`;
    case "reset":
      return `{"t":"reset","id":${checkId(frame.id, "id")}}`;
    case "presence": {
      const items = frame.members.map(
        (member) => `{"socket":${checkId(member.socket, "socket")},"state":${json(member.state, "state")}}`,
      );
      return `{"t":"presence","members":[${items.join(",")}]}`;
    }
    case "join":
    case "update":
      return `{"t":"${frame.t}","socket":${checkId(frame.socket, "socket")},"state":${json(frame.state, "state")}}`;
    case "leave":
      return `{"t":"leave","socket":${checkId(frame.socket, "socket")}}`;
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
