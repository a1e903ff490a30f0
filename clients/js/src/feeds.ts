/**
 * The feed subscriptions of one connection (protocol/SPEC.md §9): what each asks the
 * hub, and what it makes of the frames that answer. No socket: the connection writes
 * through a `FeedPort` and hands this module the frames it decoded.
 *
 * Rules:
 *
 * 1. Every `sub` frame takes a fresh id from the connection's downward count, shared with
 *    calls (SPEC §6.1, §9.3). Frames for an id that is no longer in force (an earlier
 *    request, a subscription ended) are ignored (SPEC §9.10).
 * 2. A request asks for a snapshot while one is owed (the original asked for one and it
 *    has not completed, or the hub answered `reset`); otherwise `since` the highest seq
 *    received (SPEC §9.9); otherwise what the original asked. Every open subscription
 *    is asked again after each `welcome` (`resume`).
 * 3. What answers a snapshot request waits until its `subscribed`, then goes out in
 *    order: the rows as changes with op `snapshot` and the snapshot's seq, then any
 *    change. A socket that closes first takes the partial snapshot with it.
 * 4. `seq` is the highest seq received (`snapshot`, `changes`, `subscribed`). A change
 *    whose seq is not above it is dropped, so the app never sees one twice; a snapshot
 *    starts over from its own seq (after `reset`, the app starts over too).
 * 5. A subscription ends once (`#finish`): `unsubscribe()`, an `error` frame that is not
 *    retryable (or one too many retryable ones), the seq of rule 6 failing, or the
 *    connection's end. Its iterators then end, with the error if there is one, and
 *    nothing more is delivered.
 * 6. A subscription may start from a seq still on its way (`Feeds.subscribe(request,
 *    since)`: the database client's `snapshot: false`, taken by `stats()` at the call).
 *    Nothing is asked until it comes; then it stands for the original's `since` (rule 2).
 *    If it fails, the subscription ends with that error (rule 5); if the subscription
 *    ended first, nothing is sent at all.
 */

import { encode, isId } from "./codec.js";
import type { ChangeItem, FeedFrame, Json, Scalar, Sub, Where } from "./frames.js";
import type { RoostError } from "./errors.js";
import { type Change, ChangeEvent, ErrorEvent, type SubscriptionEventMap, TypedEventTarget } from "./events.js";
import { Inbox } from "./inbox.js";

/** What to subscribe to, besides the table (SPEC §9.3-§9.5). */
export interface SubscribeOptions {
  /**
   * Which rows: the wire form of SPEC §9.4 (`[["done", "eq", false], ["title", "like",
   * "a%"]]`, `{or: [...]}` inside), or an object whose members are equality conditions
   * that must all hold (`{ room: "lobby", done: false }`; undefined members left out).
   */
  where?: Where | Readonly<Record<string, Scalar | undefined>>;
  /** Which columns each row holds (the primary key columns always). Default: every one. */
  columns?: readonly string[];
  /** The rows that match first (as changes with op `snapshot`), then live changes. */
  snapshot?: boolean;
  /** Every change after this seq first, then live changes (SPEC §9.3). Not with `snapshot`. */
  since?: number;
}

/**
 * `subscribing` (asked, or waiting to ask: no `subscribed` yet for the current request),
 * `live` (`subscribed` came), `closed` (for good).
 */
export type SubscriptionState = "subscribing" | "live" | "closed";

/** What the subscriptions of a connection need from it. */
export interface FeedPort {
  /** The next id of the connection's downward count (shared with calls). */
  nextId(): number;
  /** Write `text` now if the socket is welcomed and open; false otherwise (it waits for `resume`). */
  write(text: string): boolean;
  /** How long to wait before retry `n` (1-based) after a retryable error. */
  delay(n: number): number;
  /** Retryable errors in a row a subscription takes before it ends with the last one. */
  readonly maxRetries: number;
}

/** A subscription's request, checked and copied: what every `sub` frame of it is made from. */
export interface FeedRequest {
  readonly table: string;
  readonly where: Json[];
  readonly columns: string[] | undefined;
  readonly snapshot: boolean;
  readonly since: number | undefined;
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === "string" || typeof value === "boolean" || Number.isFinite(value);
}

function plainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** The wire form of `where` (SPEC §9.4): arrays as given (copied), objects as equality conditions. */
export function whereConditions(where: SubscribeOptions["where"]): Json[] {
  if (where === undefined) return [];
  if (Array.isArray(where)) {
    const text = JSON.stringify(where); // TypeError for a BigInt or a cycle
    if (text === undefined) throw new TypeError("where is not JSON");
    return JSON.parse(text) as Json[];
  }
  if (!plainObject(where)) {
    throw new TypeError(`where must be an array of conditions or an object of column values, got ${typeof where}`);
  }
  const conditions: Json[] = [];
  for (const [column, value] of Object.entries(where)) {
    if (value === undefined) continue;
    if (!isScalar(value)) {
      throw new TypeError(`where.${column} must be a string, number, boolean or null, got ${typeof value}`);
    }
    conditions.push([column, "eq", value]);
  }
  return conditions;
}

/** Check and copy what `subscribe(table, options)` was given; throws `TypeError` / `RangeError`. */
export function feedRequest(table: string, options: SubscribeOptions = {}): FeedRequest {
  if (typeof table !== "string" || table === "") {
    throw new TypeError(`table must be a non-empty string, got ${JSON.stringify(table)}`);
  }
  if (typeof options !== "object" || options === null) throw new TypeError("options must be an object");
  const { snapshot = false, since, columns } = options;
  if (typeof snapshot !== "boolean") throw new TypeError(`snapshot must be a boolean, got ${typeof snapshot}`);
  if (since !== undefined) {
    if (typeof since !== "number") throw new TypeError(`since must be a number, got ${typeof since}`);
    if (!isId(since)) throw new RangeError(`since must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${since}`);
  }
  if (snapshot && since !== undefined) {
    throw new TypeError("snapshot and since cannot be given together (SPEC §9.3): take one or the other");
  }
  if (columns !== undefined && (!Array.isArray(columns) || !columns.every((column) => typeof column === "string"))) {
    throw new TypeError("columns must be an array of column names");
  }
  return { table, where: whereConditions(options.where), columns: columns === undefined ? undefined : [...columns], snapshot, since };
}

/** The `sub` frame of `request` with id `id`, asking for a snapshot, or since a seq, or neither. */
export function subFrame(
  request: FeedRequest,
  id: number,
  ask: { readonly snapshot: boolean; readonly since: number | undefined },
): Sub {
  const { table, where, columns } = request;
  const frame: Sub = { t: "sub", id, table, where, snapshot: ask.snapshot };
  if (columns !== undefined) frame.columns = columns;
  if (!ask.snapshot && ask.since !== undefined) frame.since = ask.since;
  return frame;
}

/** One subscription's state machine. Made by `Feeds.subscribe`; the app holds its `handle`. */
export class Feed {
  readonly handle: Subscription;
  readonly request: FeedRequest;
  /** Holds what comes before the first iterator until a `change` listener is added. */
  readonly inbox = new Inbox<Change>(true);
  seq: number | undefined = undefined;
  state: SubscriptionState = "subscribing";
  error: RoostError | null = null;

  readonly #feeds: Feeds;
  readonly #port: FeedPort;
  /** The original's `since`: the request's, or the seq of rule 6 once it came. */
  #since: number | undefined;
  /** The seq of rule 6 is still on its way: nothing is asked until it comes. */
  #waiting: boolean;
  /** The id of the request in force (written on the current socket), or null. */
  #id: number | null = null;
  /** A snapshot is owed: the next request asks for one (rule 2). */
  #owed: boolean;
  /** What answers the current snapshot request, until its `subscribed` (rule 3); null otherwise. */
  #buffer: Change[] | null = null;
  /** Retryable errors in a row, since the last `subscribed`. */
  #retries = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(feeds: Feeds, port: FeedPort, request: FeedRequest, since?: Promise<number>) {
    this.#feeds = feeds;
    this.#port = port;
    this.request = request;
    this.#owed = request.snapshot;
    this.#since = request.since;
    this.#waiting = since !== undefined;
    this.handle = new Subscription(this);
    since?.then(
      (seq) => this.#sinceCame(seq),
      (error: RoostError) => this.finish(error),
    );
  }

  /** The `sub` frame asking for what rule 2 says, with id `id`. */
  frame(id: number): Sub {
    const since = this.#owed ? undefined : (this.seq ?? this.#since);
    return subFrame(this.request, id, { snapshot: this.#owed, since });
  }

  /** Ask the hub (again) now, with a fresh id; if the socket cannot take it, `resume` will. */
  send(): void {
    if (this.state === "closed" || this.#waiting) return;
    this.#clearTimer();
    this.#forget();
    const id = this.#port.nextId();
    if (!this.#port.write(encode(this.frame(id)))) return;
    this.#id = id;
    this.#feeds.bind(id, this);
    this.#buffer = this.#owed ? [] : null;
  }

  /** The socket closed: whatever the hub had not completed is asked again after the next welcome. */
  socketClosed(): void {
    this.#forget();
    if (this.state === "live") this.state = "subscribing";
  }

  /** A frame for the id in force (the router checked it). */
  onFrame(frame: FeedFrame): void {
    switch (frame.t) {
      case "snapshot":
        if (this.#buffer === null) return; // not asked for: nothing to add it to
        for (const row of frame.rows) this.#buffer.push({ seq: frame.seq, op: "snapshot", row });
        return;
      case "changes":
        if (this.#buffer !== null) this.#buffer.push(...frame.changes);
        else this.#deliverChanges(frame.changes);
        return;
      case "subscribed":
        this.#onSubscribed(frame.seq);
        return;
      case "reset":
        this.#onReset();
        return;
    }
  }

  /** An `error` frame for the id in force: retry after a delay if retryable, else end. */
  onError(error: RoostError): void {
    this.#forget();
    if (this.state === "live") this.state = "subscribing";
    if (!error.retryable || this.#retries >= this.#port.maxRetries) {
      this.finish(error);
      return;
    }
    this.#retries += 1;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.send();
    }, this.#port.delay(this.#retries));
  }

  /** End for good (rule 5); `error` null: a clean end. */
  finish(error: RoostError | null): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.error = error;
    this.#clearTimer();
    this.#forget();
    this.#feeds.remove(this);
    this.inbox.end(error);
    if (error !== null) this.handle.dispatchEvent(new ErrorEvent(error));
  }

  /** The app ends the subscription: `unsub` if the hub has it on this socket (SPEC §9.10). */
  unsubscribe(): void {
    if (this.state === "closed") return;
    const id = this.#id;
    if (id !== null) this.#port.write(encode({ t: "unsub", id }));
    this.finish(null);
  }

  /** The seq of rule 6 came: ask now (or at the next `resume`), unless the subscription ended. */
  #sinceCame(seq: number): void {
    if (this.state === "closed") return;
    this.#since = seq;
    this.#waiting = false;
    this.send();
  }

  #onSubscribed(seq: number): void {
    const buffer = this.#buffer;
    this.#buffer = null;
    if (buffer !== null) {
      // A snapshot replaces what came before it (rule 4): its rows all carry its seq.
      this.#owed = false;
      this.seq = undefined;
      for (const change of buffer) {
        if (change.op === "snapshot") {
          this.seq = change.seq;
          this.#deliver(change);
        } else {
          this.#deliverChanges([change as ChangeItem]);
        }
        if (this.state === "closed") return;
      }
    }
    this.seq = this.seq === undefined ? seq : Math.max(this.seq, seq);
    this.state = "live";
    this.#retries = 0;
  }

  #onReset(): void {
    // SPEC §9.6: the app discards what it built from the feed; a snapshot follows.
    const seq = this.seq ?? this.#since ?? 0;
    this.#forget();
    this.#owed = true;
    this.state = "subscribing";
    this.#deliver({ seq, op: "reset", row: null });
    this.send(); // nothing if a listener unsubscribed
  }

  #deliverChanges(changes: readonly ChangeItem[]): void {
    for (const { seq, op, row } of changes) {
      if (this.seq !== undefined && seq <= this.seq) continue; // had it already (SPEC §9.9)
      this.seq = seq;
      this.#deliver({ seq, op, row });
      if (this.state === "closed") return;
    }
  }

  #deliver(change: Change): void {
    if (this.state === "closed") return;
    this.inbox.push(change);
    this.handle.dispatchEvent(new ChangeEvent(change));
  }

  /** The id in force is no longer (its socket closed, or the hub ended it). */
  #forget(): void {
    if (this.#id !== null) this.#feeds.unbind(this.#id);
    this.#id = null;
    this.#buffer = null;
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/**
 * A subscription to a feed table of the object (`Connection.subscribe`): its changes as
 * an async iterator and as `change` events, resumed across reconnects without a gap or a
 * duplicate (SPEC §9.9).
 */
export class Subscription extends TypedEventTarget<SubscriptionEventMap> implements AsyncIterable<Change> {
  readonly #feed: Feed;

  /** Made by `Connection.subscribe`. */
  constructor(feed: Feed) {
    super();
    this.#feed = feed;
  }

  /** A `change` listener reads the changes: nothing more is kept for a first iterator. */
  protected override listening(type: string): void {
    if (type === "change") this.#feed.inbox.release();
  }

  /** The feed table. */
  get table(): string {
    return this.#feed.request.table;
  }

  /** The highest seq received (snapshot, changes or subscribed), or undefined before any. */
  get seq(): number | undefined {
    return this.#feed.seq;
  }

  /** `subscribing`, `live` or `closed`: see `SubscriptionState`. */
  get state(): SubscriptionState {
    return this.#feed.state;
  }

  /** Why the subscription ended, once `state` is `closed`; null after `unsubscribe()` or a clean end of the connection. */
  get error(): RoostError | null {
    return this.#feed.error;
  }

  /** End the subscription: `unsub` goes to the hub, iterators end, nothing more is delivered. */
  unsubscribe(): void {
    this.#feed.unsubscribe();
  }

  /**
   * The changes in order. The first iterator also gets every change that came before it
   * was made, unless a `change` listener was added first (then it starts from its
   * making, like any later iterator): `for await` after an `await` misses nothing, and
   * a subscription read by events only keeps nothing. Iteration ends when the
   * subscription does, throwing the error that ended it, if any. Leaving the loop does
   * not unsubscribe.
   */
  [Symbol.asyncIterator](): AsyncIterator<Change> {
    return this.#feed.inbox.iterator();
  }
}

/** The subscriptions of one connection, by the id of their request in force. */
export class Feeds {
  readonly #port: FeedPort;
  readonly #open = new Set<Feed>();
  readonly #byId = new Map<number, Feed>();

  constructor(port: FeedPort) {
    this.#port = port;
  }

  /** How many subscriptions are open. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * A new subscription, asked at once if the socket is open (else at the next `resume`).
   * With `since` (rule 6): asked `since` the seq it resolves with, once it does; a
   * rejection (a `RoostError`) ends the subscription. `request` then has neither
   * `snapshot` nor `since`.
   */
  subscribe(request: FeedRequest, since?: Promise<number>): Subscription {
    const feed = new Feed(this, this.#port, request, since);
    this.#open.add(feed);
    feed.send();
    return feed.handle;
  }

  /** Whether `id` is the id of a subscription's request in force. */
  has(id: number): boolean {
    return this.#byId.has(id);
  }

  /** A frame about a subscription; ignored if its id is not in force (rule 1). */
  onFrame(frame: FeedFrame): void {
    this.#byId.get(frame.id)?.onFrame(frame);
  }

  /** An `error` frame with `id`: false if no subscription has that id. */
  fail(id: number, error: RoostError): boolean {
    const feed = this.#byId.get(id);
    feed?.onError(error);
    return feed !== undefined;
  }

  /** A new socket was welcomed: ask again for every open subscription (rule 2). */
  resume(): void {
    for (const feed of [...this.#open]) feed.send();
  }

  /** The socket closed. */
  socketClosed(): void {
    for (const feed of this.#open) feed.socketClosed();
  }

  /** The connection ended: every subscription ends, with `error` or cleanly (null). */
  end(error: RoostError | null): void {
    for (const feed of [...this.#open]) feed.finish(error);
  }

  /** @internal */
  bind(id: number, feed: Feed): void {
    this.#byId.set(id, feed);
  }

  /** @internal */
  unbind(id: number): void {
    this.#byId.delete(id);
  }

  /** @internal */
  remove(feed: Feed): void {
    this.#open.delete(feed);
  }
}
