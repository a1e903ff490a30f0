/**
 * The subscription state machine (src/feeds.ts) fed with decoded hub frames, through a
 * fake port: what each request asks, snapshot buffering, dedup by seq, resume, reset,
 * errors and the end. Fake timers for the retry delays.
 */

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import {
  BadSubscription,
  type Change,
  type ClientFrame,
  ConnectionClosed,
  Forbidden,
  InternalError,
  NoSuchFeed,
  RoostError,
  type SubscribeOptions,
  type Subscription,
  TooManySubscriptions,
  decodeClient,
  decodeHub,
  feedRequest,
  fromFrame,
  whereConditions,
} from "../src/index.js";
import { type FeedPort, Feeds } from "../src/feeds.js";
import { settle } from "./fake-socket.js";

const MAX = Number.MAX_SAFE_INTEGER;

/** The connection's side, faked: ids counting down, writes recorded while `open`. */
class Port implements FeedPort {
  written: ClientFrame[] = [];
  open = true;
  maxRetries = Number.POSITIVE_INFINITY;
  private next = MAX;

  nextId(): number {
    return this.next--;
  }

  write(text: string): boolean {
    if (!this.open) return false;
    this.written.push(decodeClient(text));
    return true;
  }

  delay(n: number): number {
    return 100 * 2 ** (n - 1);
  }

  /** What was written since the last call. */
  take(): ClientFrame[] {
    return this.written.splice(0);
  }
}

interface Rig {
  port: Port;
  feeds: Feeds;
  sub: Subscription;
  /** Changes delivered, as `seq:op:row.id` (or `seq:reset`). */
  seen: string[];
  /** The hub sends `json` (decoded, then routed as the connection routes it). */
  hub(json: string): void;
}

function short(change: Change): string {
  return change.row === null ? `${change.seq}:${change.op}` : `${change.seq}:${change.op}:${String(change.row.id)}`;
}

function rig(options: SubscribeOptions = {}, table = "todos"): Rig {
  const port = new Port();
  const feeds = new Feeds(port);
  const sub = feeds.subscribe(feedRequest(table, options));
  const seen: string[] = [];
  sub.on("change", (event) => seen.push(short(event.change)));
  return { port, feeds, sub, seen, hub: (json) => route(feeds, json) };
}

/** Decode `json` and hand it to `feeds` as the connection does. */
function route(feeds: Feeds, json: string): void {
  const frame = decodeHub(json);
  if (frame.t === "error") {
    assert.ok(frame.id !== null && feeds.fail(frame.id, fromFrame(frame)), `no subscription has id ${frame.id}`);
  } else if (frame.t === "snapshot" || frame.t === "changes" || frame.t === "subscribed" || frame.t === "reset") {
    feeds.onFrame(frame);
  } else {
    assert.fail(`not a feed frame: ${json}`);
  }
}

function rows(id: number, seq: number, ...ids: number[]): string {
  return JSON.stringify({ t: "snapshot", id, seq, rows: ids.map((n) => ({ id: n, title: `t${n}` })) });
}

function changes(id: number, ...items: [number, "insert" | "update" | "delete", number][]): string {
  return JSON.stringify({ t: "changes", id, changes: items.map(([seq, op, n]) => ({ seq, op, row: { id: n } })) });
}

function subscribed(id: number, seq: number): string {
  return JSON.stringify({ t: "subscribed", id, seq });
}

function error(id: number, code: string, retryable = false): string {
  return JSON.stringify({ t: "error", id, code, message: `${code} for ${id}`, retryable });
}

/** Drop the socket and welcome a new one, as the connection does. */
function reconnect(r: Rig): void {
  r.port.open = false;
  r.feeds.socketClosed();
  r.port.open = true;
  r.feeds.resume();
}

beforeEach(() => {
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => {
  mock.timers.reset();
});

describe("requests", () => {
  test("snapshot, since, live: the sub frame of SPEC §9.3, ids from the downward count", () => {
    const snap = rig({ snapshot: true, where: [["done", "eq", false]], columns: ["title"] });
    assert.deepEqual(snap.port.take(), [
      { t: "sub", id: MAX, table: "todos", where: [["done", "eq", false]], columns: ["title"], snapshot: true },
    ]);
    assert.deepEqual(rig({ since: 42 }).port.take(), [{ t: "sub", id: MAX, table: "todos", where: [], snapshot: false, since: 42 }]);
    assert.deepEqual(rig({}).port.take(), [{ t: "sub", id: MAX, table: "todos", where: [], snapshot: false }]);
    assert.deepEqual(rig({ snapshot: false, since: 0 }).port.take(), [
      { t: "sub", id: MAX, table: "todos", where: [], snapshot: false, since: 0 },
    ]);
  });

  test("where: the wire form as given, or an object of equality conditions", () => {
    const wire = [{ or: [[["list", "in", ["home", "work"]]], [["due", "lt", 1700000000]]] }] as const;
    assert.deepEqual(whereConditions(wire as never), wire);
    assert.deepEqual(whereConditions({ room: "lobby", done: false, owner: null, skipped: undefined, n: 2.5 }), [
      ["room", "eq", "lobby"],
      ["done", "eq", false],
      ["owner", "eq", null],
      ["n", "eq", 2.5],
    ]);
    assert.deepEqual(whereConditions(undefined), []);
    assert.deepEqual(whereConditions({}), []);
    const given: [string, "eq", string][] = [["a", "eq", "x"]];
    const request = feedRequest("t", { where: given });
    given[0]![2] = "changed";
    assert.deepEqual(request.where, [["a", "eq", "x"]], "copied: a later change of the array is not sent");
  });

  test("refused at once: snapshot with since, bad where, bad since, bad columns, no table", () => {
    assert.throws(() => feedRequest("t", { snapshot: true, since: 1 }), (e: unknown) => e instanceof TypeError && /snapshot and since/.test(e.message));
    assert.throws(() => feedRequest("t", { where: { list: ["a", "b"] } as never }), TypeError);
    assert.throws(() => feedRequest("t", { where: { n: Number.NaN } }), TypeError);
    assert.throws(() => feedRequest("t", { where: "done = 0" as never }), TypeError);
    assert.throws(() => feedRequest("t", { where: new Map() as never }), TypeError);
    assert.throws(() => feedRequest("t", { where: [[1n]] as never }), TypeError);
    assert.throws(() => feedRequest("t", { since: -1 }), RangeError);
    assert.throws(() => feedRequest("t", { since: 1.5 }), RangeError);
    assert.throws(() => feedRequest("t", { since: "3" as never }), TypeError);
    assert.throws(() => feedRequest("t", { snapshot: 1 as never }), TypeError);
    assert.throws(() => feedRequest("t", { columns: "title" as never }), TypeError);
    assert.throws(() => feedRequest("t", { columns: [1] as never }), TypeError);
    assert.throws(() => feedRequest("", {}), TypeError);
  });
});

describe("delivery", () => {
  test("snapshot rows wait for subscribed, then come as op snapshot with the snapshot's seq; live changes follow", async () => {
    const r = rig({ snapshot: true });
    const iterator = r.sub[Symbol.asyncIterator]();
    assert.equal(r.sub.state, "subscribing");
    r.hub(rows(MAX, 41, 1, 2));
    r.hub(rows(MAX, 41, 3));
    assert.deepEqual(r.seen, [], "buffered until subscribed");
    assert.equal(r.sub.seq, undefined);
    r.hub(subscribed(MAX, 41));
    assert.deepEqual(r.seen, ["41:snapshot:1", "41:snapshot:2", "41:snapshot:3"]);
    assert.deepEqual([r.sub.seq, r.sub.state], [41, "live"]);
    r.hub(changes(MAX, [42, "insert", 4], [43, "update", 1]));
    r.hub(changes(MAX, [44, "delete", 2]));
    assert.deepEqual(r.seen.slice(3), ["42:insert:4", "43:update:1", "44:delete:2"]);
    assert.equal(r.sub.seq, 44);
    assert.deepEqual(await iterator.next(), { value: { seq: 41, op: "snapshot", row: { id: 1, title: "t1" } }, done: false });
    const rest: string[] = [];
    for (let i = 0; i < 5; i++) rest.push(short((await iterator.next()).value as Change));
    assert.deepEqual(rest, r.seen.slice(1));
  });

  test("a change whose seq is not above the last one is dropped", () => {
    const r = rig({});
    r.hub(subscribed(MAX, 10));
    assert.equal(r.sub.seq, 10);
    r.hub(changes(MAX, [9, "insert", 1], [10, "insert", 2], [11, "insert", 3]));
    r.hub(changes(MAX, [11, "update", 3], [13, "update", 3], [12, "delete", 9]));
    assert.deepEqual(r.seen, ["11:insert:3", "13:update:3"]);
  });

  test("since: the replay is delivered as it comes, before subscribed", () => {
    const r = rig({ since: 5 });
    r.hub(changes(MAX, [6, "insert", 1], [8, "update", 1]));
    assert.deepEqual(r.seen, ["6:insert:1", "8:update:1"]);
    assert.deepEqual([r.sub.seq, r.sub.state], [8, "subscribing"]);
    r.hub(subscribed(MAX, 9));
    assert.deepEqual([r.sub.seq, r.sub.state], [9, "live"], "subscribed's seq counts even if no change matched");
  });

  test("an empty snapshot: nothing delivered, seq from it", () => {
    const r = rig({ snapshot: true });
    r.hub(rows(MAX, 0));
    r.hub(subscribed(MAX, 0));
    assert.deepEqual([r.seen, r.sub.seq], [[], 0]);
  });

  test("a listener that unsubscribes in the middle of a frame gets nothing more", () => {
    const r = rig({});
    r.sub.on("change", (event) => {
      if (event.change.seq === 2) r.sub.unsubscribe();
    });
    r.hub(changes(MAX, [1, "insert", 1], [2, "insert", 2], [3, "insert", 3]));
    assert.deepEqual(r.seen, ["1:insert:1", "2:insert:2"]);
    assert.deepEqual(r.port.take().at(-1), { t: "unsub", id: MAX });
  });
});

describe("a reader that starts late", () => {
  function bare(): { feeds: Feeds; sub: Subscription } {
    const feeds = new Feeds(new Port());
    return { feeds, sub: feeds.subscribe(feedRequest("todos", { snapshot: true })) };
  }

  async function drain(iterator: AsyncIterator<Change>, n: number): Promise<string[]> {
    const got: string[] = [];
    for (let i = 0; i < n; i++) got.push(short((await iterator.next()).value as Change));
    return got;
  }

  test("the first iterator gets what came before it was made; a later one does not", async () => {
    const { feeds, sub } = bare();
    sub.on("error", () => undefined); // not a change listener: nothing released
    route(feeds, rows(MAX, 1, 1, 2));
    route(feeds, subscribed(MAX, 1));
    const first = sub[Symbol.asyncIterator]();
    const second = sub[Symbol.asyncIterator]();
    route(feeds, changes(MAX, [2, "insert", 3]));
    assert.deepEqual(await drain(first, 3), ["1:snapshot:1", "1:snapshot:2", "2:insert:3"]);
    assert.deepEqual(await drain(second, 1), ["2:insert:3"]);
  });

  test("a subscription that ended before its first iterator: what came, then the error", async () => {
    const { feeds, sub } = bare();
    route(feeds, rows(MAX, 1, 1));
    route(feeds, subscribed(MAX, 1));
    route(feeds, error(MAX, "no_such_feed"));
    const iterator = sub[Symbol.asyncIterator]();
    assert.deepEqual(await drain(iterator, 1), ["1:snapshot:1"]);
    await assert.rejects(iterator.next(), NoSuchFeed);
  });

  test("with a change listener first, nothing is kept for an iterator", async () => {
    const { feeds, sub } = bare();
    const heard: string[] = [];
    sub.on("change", (event) => heard.push(short(event.change)));
    route(feeds, rows(MAX, 1, 1));
    route(feeds, subscribed(MAX, 1));
    const iterator = sub[Symbol.asyncIterator]();
    route(feeds, changes(MAX, [2, "insert", 2]));
    assert.deepEqual(await drain(iterator, 1), ["2:insert:2"]);
    assert.deepEqual(heard, ["1:snapshot:1", "2:insert:2"]);
  });
});

describe("resuming", () => {
  test("after a reconnect: since the last seq, a fresh id; the old id's frames are ignored", () => {
    const r = rig({ snapshot: true });
    r.hub(rows(MAX, 3, 1));
    r.hub(subscribed(MAX, 3));
    r.hub(changes(MAX, [4, "insert", 2]));
    r.port.take();
    reconnect(r);
    assert.deepEqual(r.port.take(), [{ t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false, since: 4 }]);
    assert.equal(r.sub.state, "subscribing");
    r.hub(changes(MAX - 1, [4, "insert", 2], [5, "insert", 3]));
    r.hub(changes(MAX, [6, "insert", 9])); // the old id: ignored
    r.hub(subscribed(MAX - 1, 5));
    assert.deepEqual(r.seen, ["3:snapshot:1", "4:insert:2", "5:insert:3"]);
    assert.equal(r.sub.state, "live");
  });

  test("a snapshot cut off mid-way is asked again; the partial rows are discarded", () => {
    const r = rig({ snapshot: true, where: { done: false } });
    r.hub(rows(MAX, 7, 1, 2));
    r.port.take();
    reconnect(r);
    assert.deepEqual(r.port.take(), [
      { t: "sub", id: MAX - 1, table: "todos", where: [["done", "eq", false]], snapshot: true },
    ]);
    r.hub(rows(MAX - 1, 8, 1, 2, 3));
    r.hub(subscribed(MAX - 1, 8));
    assert.deepEqual(r.seen, ["8:snapshot:1", "8:snapshot:2", "8:snapshot:3"]);
  });

  test("nothing received yet: the original request again (since, or live)", () => {
    const since = rig({ since: 42 });
    since.port.take();
    reconnect(since);
    assert.deepEqual(since.port.take(), [{ t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false, since: 42 }]);
    const live = rig({});
    live.port.take();
    reconnect(live);
    assert.deepEqual(live.port.take(), [{ t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false }]);
  });

  test("a live subscription resumes from subscribed's seq, so nothing between is missed", () => {
    const r = rig({});
    r.hub(subscribed(MAX, 17));
    r.port.take();
    reconnect(r);
    assert.deepEqual(r.port.take(), [{ t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false, since: 17 }]);
  });

  test("subscribed while the socket is down is impossible: asked again only once per welcome", () => {
    const r = rig({ snapshot: true });
    r.port.take();
    r.port.open = false;
    r.feeds.socketClosed();
    r.feeds.resume(); // a welcome whose socket is already gone
    assert.deepEqual(r.port.take(), []);
    r.port.open = true;
    r.feeds.resume();
    assert.equal(r.port.take().length, 1);
  });
});

describe("reset", () => {
  test("a reset change (the last seq), then a snapshot asked and delivered whole", () => {
    const r = rig({ since: 5 });
    r.hub(changes(MAX, [6, "insert", 1]));
    r.port.take();
    r.hub(JSON.stringify({ t: "reset", id: MAX }));
    assert.deepEqual(r.seen, ["6:insert:1", "6:reset"]);
    assert.equal(r.sub.state, "subscribing");
    assert.deepEqual(r.port.take(), [{ t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: true }]);
    r.hub(changes(MAX, [7, "insert", 2])); // the old id: ignored
    r.hub(rows(MAX - 1, 6, 1, 3));
    r.hub(subscribed(MAX - 1, 6));
    r.hub(changes(MAX - 1, [7, "update", 3]));
    assert.deepEqual(r.seen.slice(2), ["6:snapshot:1", "6:snapshot:3", "7:update:3"]);
    assert.equal(r.sub.seq, 7);
  });

  test("reset before anything was received: the since asked for", () => {
    const r = rig({ since: 42 });
    r.hub(JSON.stringify({ t: "reset", id: MAX }));
    assert.deepEqual(r.seen, ["42:reset"]);
  });

  test("a socket lost after a reset, before the new snapshot completed: the snapshot is asked again", () => {
    const r = rig({ since: 5 });
    r.hub(changes(MAX, [9, "insert", 1]));
    r.hub(JSON.stringify({ t: "reset", id: MAX }));
    r.port.take();
    reconnect(r);
    assert.deepEqual(r.port.take(), [{ t: "sub", id: MAX - 2, table: "todos", where: [], snapshot: true }], "not since 9: that would reset again");
  });
});

describe("the end", () => {
  for (const [code, ErrorClass] of [
    ["no_such_feed", NoSuchFeed],
    ["bad_subscription", BadSubscription],
    ["forbidden", Forbidden],
    ["too_many_subscriptions", TooManySubscriptions],
  ] as const) {
    test(`${code}: the subscription ends with ${ErrorClass.name}; iteration throws it`, async () => {
      const r = rig({ snapshot: true });
      const iterator = r.sub[Symbol.asyncIterator]();
      const errors: RoostError[] = [];
      r.sub.on("error", (event) => errors.push(event.error));
      r.hub(error(MAX, code));
      assert.equal(r.sub.state, "closed");
      assert.ok(r.sub.error instanceof ErrorClass);
      assert.deepEqual([r.sub.error.code, r.sub.error.remote, r.sub.error.id, r.sub.error.retryable], [code, true, MAX, false]);
      assert.deepEqual(errors, [r.sub.error]);
      await assert.rejects(iterator.next(), ErrorClass);
      assert.deepEqual(await iterator.next(), { value: undefined, done: true });
      assert.equal(r.feeds.size, 0);
      assert.equal(r.feeds.has(MAX), false);
      r.port.take();
      reconnect(r);
      assert.deepEqual(r.port.take(), [], "not asked again");
    });
  }

  test("a retryable error: asked again after the backoff delay, since the last seq", () => {
    const r = rig({});
    r.hub(subscribed(MAX, 3));
    r.hub(changes(MAX, [4, "insert", 1]));
    r.port.take();
    r.hub(error(MAX, "internal_error", true));
    assert.equal(r.sub.state, "subscribing");
    mock.timers.tick(99);
    assert.deepEqual(r.port.take(), []);
    mock.timers.tick(1);
    assert.deepEqual(r.port.take(), [{ t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false, since: 4 }]);
    r.hub(error(MAX - 1, "internal_error", true));
    mock.timers.tick(199);
    assert.deepEqual(r.port.take(), []);
    mock.timers.tick(1);
    assert.equal(r.port.take().length, 1, "the delay grows");
    r.hub(subscribed(MAX - 2, 4));
    r.hub(error(MAX - 2, "internal_error", true));
    mock.timers.tick(100);
    assert.equal(r.port.take().length, 1, "subscribed starts the delays over");
    assert.deepEqual(r.seen, ["4:insert:1"]);
  });

  test("retryable errors beyond maxRetries end the subscription with the last one", async () => {
    const r = rig({});
    r.port.maxRetries = 1;
    r.hub(error(MAX, "internal_error", true));
    mock.timers.tick(100);
    r.hub(error(MAX - 1, "internal_error", true));
    assert.equal(r.sub.state, "closed");
    assert.ok(r.sub.error instanceof InternalError);
    await assert.rejects(r.sub[Symbol.asyncIterator]().next(), InternalError);
  });

  test("a reconnect while waiting to retry asks at once", () => {
    const r = rig({});
    r.port.take();
    r.hub(error(MAX, "internal_error", true));
    reconnect(r);
    assert.equal(r.port.take().length, 1);
    mock.timers.tick(10_000);
    assert.deepEqual(r.port.take(), [], "the timer was cancelled");
  });

  test("unsubscribe(): unsub with the id in force, iteration ends cleanly, later frames ignored", async () => {
    const r = rig({ snapshot: true });
    const iterator = r.sub[Symbol.asyncIterator]();
    r.hub(rows(MAX, 1, 1));
    r.hub(subscribed(MAX, 1));
    r.port.take();
    r.sub.unsubscribe();
    assert.deepEqual(r.port.take(), [{ t: "unsub", id: MAX }]);
    r.sub.unsubscribe();
    assert.deepEqual(r.port.take(), [], "once");
    r.hub(changes(MAX, [2, "insert", 2]));
    assert.deepEqual(await iterator.next(), { value: { seq: 1, op: "snapshot", row: { id: 1, title: "t1" } }, done: false });
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    assert.deepEqual([r.sub.state, r.sub.error, r.seen], ["closed", null, ["1:snapshot:1"]]);
  });

  test("unsubscribe() while the socket is down: nothing to tell the hub", () => {
    const r = rig({});
    r.port.take();
    r.port.open = false;
    r.feeds.socketClosed();
    r.sub.unsubscribe();
    r.port.open = true;
    r.feeds.resume();
    assert.deepEqual(r.port.take(), []);
  });

  test("the connection's end: iteration throws its error, or ends cleanly", async () => {
    const failed = rig({});
    const iterator = failed.sub[Symbol.asyncIterator]();
    const lost = new ConnectionClosed("the hub closed the connection with 1002");
    failed.feeds.end(lost);
    await assert.rejects(iterator.next(), (e: unknown) => e === lost);
    assert.equal(failed.sub.error, lost);
    const closed = rig({});
    const quiet = closed.sub[Symbol.asyncIterator]();
    closed.feeds.end(null);
    assert.deepEqual(await quiet.next(), { value: undefined, done: true });
    assert.deepEqual([closed.sub.state, closed.sub.error], ["closed", null]);
  });
});

/** A promise the test settles: the seq of rule 6 on its way. */
function pending(): { promise: Promise<number>; resolve(seq: number): void; reject(error: RoostError): void } {
  let resolve!: (seq: number) => void;
  let reject!: (error: RoostError) => void;
  const promise = new Promise<number>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** A rig whose subscription starts since a seq the test gives later (rule 6). */
function rigAfter(options: SubscribeOptions = {}): Rig & { seq: ReturnType<typeof pending> } {
  const port = new Port();
  const feeds = new Feeds(port);
  const seq = pending();
  const sub = feeds.subscribe(feedRequest("todos", options), seq.promise);
  const seen: string[] = [];
  sub.on("change", (event) => seen.push(short(event.change)));
  return { port, feeds, sub, seen, hub: (json) => route(feeds, json), seq };
}

/** The seq comes: what was written since the last take. */
async function seqCame(r: ReturnType<typeof rigAfter>, seq: number): Promise<ClientFrame[]> {
  r.seq.resolve(seq);
  await settle();
  return r.port.take();
}

describe("since a seq on its way (rule 6)", () => {
  test("nothing is asked until the seq comes, not even after a welcome; then since it", async () => {
    const r = rigAfter({ where: { done: false } });
    reconnect(r);
    assert.deepEqual(r.port.take(), []);
    assert.deepEqual([r.sub.state, r.sub.seq], ["subscribing", undefined]);
    assert.deepEqual(await seqCame(r, 41), [{ t: "sub", id: MAX, table: "todos", where: [["done", "eq", false]], snapshot: false, since: 41 }]);
    r.hub(changes(MAX, [42, "insert", 1]));
    r.hub(subscribed(MAX, 42));
    assert.deepEqual([r.seen, r.sub.state, r.sub.seq], [["42:insert:1"], "live", 42]);
  });

  test("the socket is down when the seq comes: asked at the next welcome", async () => {
    const r = rigAfter();
    r.port.open = false;
    r.feeds.socketClosed();
    assert.deepEqual(await seqCame(r, 7), []);
    r.port.open = true;
    r.feeds.resume();
    assert.deepEqual(r.port.take(), [{ t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false, since: 7 }]);
  });

  test("after a reconnect: since the taken seq if nothing came, else the highest seq received", async () => {
    const r = rigAfter();
    assert.equal((await seqCame(r, 7)).length, 1);
    reconnect(r);
    assert.deepEqual(r.port.take(), [{ t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false, since: 7 }]);
    r.hub(changes(MAX - 1, [9, "update", 3]));
    reconnect(r);
    assert.deepEqual(r.port.take(), [{ t: "sub", id: MAX - 2, table: "todos", where: [], snapshot: false, since: 9 }]);
  });

  test("a reset before anything came: the reset change carries the taken seq", async () => {
    const r = rigAfter();
    assert.equal((await seqCame(r, 7)).length, 1);
    r.hub(JSON.stringify({ t: "reset", id: MAX }));
    assert.deepEqual(r.seen, ["7:reset"]);
    assert.deepEqual(r.port.take(), [{ t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: true }]);
  });

  test("unsubscribed before the seq comes: nothing is ever sent, neither sub nor unsub", async () => {
    const r = rigAfter();
    const iterator = r.sub[Symbol.asyncIterator]();
    r.sub.unsubscribe();
    assert.deepEqual([r.sub.state, r.sub.error, r.feeds.size], ["closed", null, 0]);
    assert.deepEqual(await seqCame(r, 7), []);
    reconnect(r);
    assert.deepEqual(r.port.take(), []);
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
  });

  test("the seq fails: the subscription ends with that error, as an error frame ends one", async () => {
    const r = rigAfter();
    const iterator = r.sub[Symbol.asyncIterator]();
    const errors: RoostError[] = [];
    r.sub.on("error", (event) => errors.push(event.error));
    const refused = fromFrame({ t: "error", id: null, code: "unauthorized", message: "token revoked", retryable: false });
    r.seq.reject(refused);
    await settle();
    assert.deepEqual([r.sub.state, r.sub.error, errors, r.feeds.size], ["closed", refused, [refused], 0]);
    await assert.rejects(iterator.next(), (e: unknown) => e === refused);
    reconnect(r);
    assert.deepEqual(r.port.take(), [], "nothing asked");
  });

  test("the connection ends while the seq is on its way: ended, and the seq changes nothing", async () => {
    const r = rigAfter();
    r.feeds.end(null);
    assert.deepEqual(await seqCame(r, 7), []);
    reconnect(r);
    assert.deepEqual([r.port.take(), r.sub.state, r.sub.error], [[], "closed", null]);
  });
});
