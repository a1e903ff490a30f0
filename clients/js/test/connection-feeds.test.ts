/**
 * Subscriptions and presence through a connection, with the fake WebSocket and fake
 * timers: what goes out after each welcome and in which order, ids shared with calls,
 * errors by id, resume without duplicates, presence across a reconnect, the end.
 */

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import {
  type Change,
  type ConnectOptions,
  Connection,
  ConnectionClosed,
  ConnectionLost,
  MessageTooBig,
  NoSuchFeed,
  type Subscription,
} from "../src/index.js";
import { FakeWebSocket, openFake, settle } from "./fake-socket.js";

const MAX = Number.MAX_SAFE_INTEGER;

const open = (options: Partial<ConnectOptions> = {}): Promise<Connection> => openFake(options);

/** Drop the socket, wait the reconnect delay, and return the new (not yet welcomed) socket. */
async function dropAndReturn(code = 1006): Promise<FakeWebSocket> {
  const before = FakeWebSocket.instances.length;
  FakeWebSocket.last.drop(code);
  mock.timers.tick(100);
  await settle();
  assert.equal(FakeWebSocket.instances.length, before + 1);
  return FakeWebSocket.last;
}

/** A call whose end the test does not care about (the connection's close rejects it). */
function ignore(promise: Promise<unknown>): void {
  promise.catch(() => undefined);
}

function collect(sub: Subscription): string[] {
  const seen: string[] = [];
  sub.on("change", (event) => {
    const { seq, op, row } = event.change;
    seen.push(row === null ? `${seq}:${op}` : `${seq}:${op}:${String(row.id)}`);
  });
  return seen;
}

beforeEach(() => {
  FakeWebSocket.reset();
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => {
  mock.timers.reset();
});

describe("subscribing through a connection", () => {
  test("before welcome: sub goes out after hello and the outbox; ids from the same count as calls", async () => {
    const connection = await open();
    ignore(connection.send("early"));
    ignore(connection.call("first"));
    const sub = connection.subscribe("todos", { snapshot: true, where: { done: false } });
    ignore(connection.call("second"));
    void connection.presence;
    const socket = FakeWebSocket.last.welcome();
    assert.deepEqual(socket.frames(), [
      { t: "hello", session: connection.session },
      { t: "msg", data: "early", id: 1 },
      { t: "call", id: MAX, method: "first", args: [], kwargs: {} },
      { t: "call", id: MAX - 2, method: "second", args: [], kwargs: {} },
      { t: "sub", id: MAX - 1 - 2, table: "todos", where: [["done", "eq", false]], snapshot: true },
      { t: "presence_sub" },
    ]);
    assert.equal(sub.state, "subscribing");
    await connection.close();
  });

  test("open: sub written at once, answered by id; the same id count as calls", async () => {
    const connection = await open();
    const socket = FakeWebSocket.last.welcome();
    ignore(connection.call("m"));
    const sub = connection.subscribe("todos", { since: 3 });
    assert.deepEqual(socket.frames().at(-1), { t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false, since: 3 });
    const seen = collect(sub);
    socket.receive({ t: "changes", id: MAX - 1, changes: [{ seq: 4, op: "insert", row: { id: 1 } }] });
    socket.receive({ t: "subscribed", id: MAX - 1, seq: 4 });
    assert.deepEqual(seen, ["4:insert:1"]);
    assert.deepEqual([sub.seq, sub.state], [4, "live"]);
    await connection.close();
  });

  test("after a drop: hello, the unacknowledged messages, then since the last seq; no duplicate reaches the app", async () => {
    const connection = await open();
    const first = FakeWebSocket.last.welcome(1);
    const sub = connection.subscribe("todos", { snapshot: true });
    const seen = collect(sub);
    first.receive({ t: "snapshot", id: MAX, seq: 5, rows: [{ id: 1 }, { id: 2 }] });
    first.receive({ t: "subscribed", id: MAX, seq: 5 });
    first.receive({ t: "changes", id: MAX, changes: [{ seq: 6, op: "insert", row: { id: 3 } }] });
    ignore(connection.send("unacknowledged"));
    const second = await dropAndReturn();
    assert.equal(sub.state, "subscribing");
    second.welcome(2);
    assert.deepEqual(second.frames().slice(1), [
      { t: "msg", data: "unacknowledged", id: 1 },
      { t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false, since: 6 },
    ]);
    second.receive({ t: "changes", id: MAX - 1, changes: [{ seq: 6, op: "insert", row: { id: 3 } }, { seq: 7, op: "delete", row: { id: 1 } }] });
    second.receive({ t: "subscribed", id: MAX - 1, seq: 7 });
    assert.deepEqual(seen, ["5:snapshot:1", "5:snapshot:2", "6:insert:3", "7:delete:1"]);
    await connection.close();
  });

  test("a snapshot cut off by a drop is asked again whole", async () => {
    const connection = await open();
    const first = FakeWebSocket.last.welcome();
    const sub = connection.subscribe("todos", { snapshot: true });
    const seen = collect(sub);
    first.receive({ t: "snapshot", id: MAX, seq: 5, rows: [{ id: 1 }] });
    const second = await dropAndReturn(1012);
    second.welcome();
    assert.deepEqual(second.frames().at(-1), { t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: true });
    second.receive({ t: "snapshot", id: MAX - 1, seq: 6, rows: [{ id: 1 }, { id: 2 }] });
    second.receive({ t: "subscribed", id: MAX - 1, seq: 6 });
    assert.deepEqual(seen, ["6:snapshot:1", "6:snapshot:2"]);
    await connection.close();
  });

  test("an error frame with the sub's id ends only the subscription, with the typed error", async () => {
    const connection = await open();
    const socket = FakeWebSocket.last.welcome();
    const sub = connection.subscribe("nope", { snapshot: true });
    const iterator = sub[Symbol.asyncIterator]();
    const connectionErrors: unknown[] = [];
    connection.on("error", (event) => connectionErrors.push(event.error));
    socket.receive({ t: "error", id: MAX, code: "no_such_feed", message: "nope is not a feed table", retryable: false });
    await assert.rejects(iterator.next(), (error: unknown) => {
      assert.ok(error instanceof NoSuchFeed);
      assert.deepEqual([error.code, error.id, error.remote, error.message], ["no_such_feed", MAX, true, "nope is not a feed table"]);
      return true;
    });
    assert.deepEqual(connectionErrors, [], "reported by the subscription, not the connection");
    assert.equal(connection.state, "open");
    const next = await dropAndReturn();
    next.welcome();
    assert.deepEqual(next.frames().slice(1), [], "an ended subscription is not asked again");
    await connection.close();
  });

  test("a retryable error: asked again after the backoff delay", async () => {
    const connection = await open();
    const socket = FakeWebSocket.last.welcome();
    connection.subscribe("todos");
    socket.receive({ t: "error", id: MAX, code: "internal_error", message: "internal error", retryable: true });
    mock.timers.tick(99);
    assert.equal(socket.frames().length, 2);
    mock.timers.tick(1);
    assert.deepEqual(socket.frames().at(-1), { t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false });
    await connection.close();
  });

  test("reset: a reset change, then a new sub with snapshot on the same socket", async () => {
    const connection = await open();
    const socket = FakeWebSocket.last.welcome();
    const sub = connection.subscribe("todos", { since: 100 });
    const changes: Change[] = [];
    sub.on("change", (event) => changes.push(event.change));
    socket.receive({ t: "reset", id: MAX });
    assert.deepEqual(changes, [{ seq: 100, op: "reset", row: null }]);
    assert.deepEqual(socket.frames().at(-1), { t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: true });
    await connection.close();
  });

  test("unsubscribe(): unsub goes out; the subscription is not asked again", async () => {
    const connection = await open();
    const socket = FakeWebSocket.last.welcome();
    const sub = connection.subscribe("todos");
    sub.unsubscribe();
    assert.deepEqual(socket.frames().at(-1), { t: "unsub", id: MAX });
    const next = await dropAndReturn();
    next.welcome();
    assert.equal(next.frames().length, 1);
    await connection.close();
  });

  test("the connection's end ends iteration: with its error, or cleanly after close()", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const sub = connection.subscribe("todos");
    const iterator = sub[Symbol.asyncIterator]();
    const errors: unknown[] = [];
    sub.on("error", (event) => errors.push(event.error));
    FakeWebSocket.last.drop(1002);
    await assert.rejects(iterator.next(), ConnectionClosed);
    assert.equal(errors.length, 1);
    assert.ok(sub.error instanceof ConnectionClosed);
    assert.throws(() => connection.subscribe("todos"), ConnectionClosed);

    const closing = await open();
    FakeWebSocket.last.welcome();
    const quiet = closing.subscribe("todos");
    const loop = (async () => {
      const got: Change[] = [];
      for await (const change of quiet) got.push(change);
      return got;
    })();
    await closing.close();
    assert.deepEqual(await loop, []);
    assert.deepEqual([quiet.state, quiet.error], ["closed", null]);
  });

  test("maxRetries: 0: a drop ends the subscription with ConnectionLost", async () => {
    const connection = await open({ maxRetries: 0 });
    FakeWebSocket.last.welcome();
    const sub = connection.subscribe("todos");
    FakeWebSocket.last.drop(1006);
    await assert.rejects(sub[Symbol.asyncIterator]().next(), ConnectionLost);
  });

  test("refused at once: snapshot with since, a frame over maxMessageSize", async () => {
    const connection = await open({ maxMessageSize: 200 });
    FakeWebSocket.last.welcome();
    assert.throws(() => connection.subscribe("todos", { snapshot: true, since: 1 }), TypeError);
    assert.throws(() => connection.subscribe("todos", { where: { title: "x".repeat(200) } }), MessageTooBig);
    assert.equal(FakeWebSocket.last.frames().length, 1, "nothing sent");
    await connection.close();
  });

  test("since a seq still to be read: taken once the checks pass; the sub goes out when it comes", async () => {
    const connection = await open({ maxMessageSize: 200 });
    const socket = FakeWebSocket.last.welcome();
    let taken = 0;
    const never = (): Promise<number> => {
      taken += 1;
      return new Promise<number>(() => undefined);
    };
    assert.throws(() => connection.subscribeAfter("todos", { snapshot: true }, never), TypeError);
    assert.throws(() => connection.subscribeAfter("todos", { since: 1 }, never), TypeError);
    // 187 bytes without since, 212 with the largest seq: refused, as that frame could be sent.
    assert.throws(() => connection.subscribeAfter("todos", { where: { title: "x".repeat(120) } }, never), MessageTooBig);
    assert.equal(taken, 0, "no seq read for a refused subscription");
    let give!: (seq: number) => void;
    const sub = connection.subscribeAfter("todos", {}, () => new Promise<number>((resolve) => (give = resolve)));
    await settle();
    assert.deepEqual([socket.frames().length, sub.state], [1, "subscribing"]);
    give(12);
    await settle();
    assert.deepEqual(socket.frames().at(-1), { t: "sub", id: MAX, table: "todos", where: [], snapshot: false, since: 12 });
    await connection.close();
  });
});

describe("presence through a connection", () => {
  test("the first read asks; after a reconnect the new list is told as its difference", async () => {
    const connection = await open();
    const first = FakeWebSocket.last.welcome(1);
    const presence = connection.presence;
    assert.equal(connection.presence, presence, "made once");
    assert.deepEqual(first.frames().at(-1), { t: "presence_sub" });
    const seen: string[] = [];
    for (const type of ["join", "update", "leave"] as const) {
      presence.on(type, (event) => seen.push(`${type}:${event.detail.socket}`));
    }
    presence.on("sync", () => seen.push("sync"));
    first.receive({ t: "presence", members: [{ socket: 1, state: "me" }, { socket: 2, state: "bob" }] });
    await presence.ready;
    first.receive({ t: "join", socket: 3, state: "cy" });
    const sub = connection.subscribe("todos");
    const second = await dropAndReturn();
    second.welcome(4);
    assert.deepEqual(second.frames().slice(1), [
      { t: "sub", id: MAX - 1, table: "todos", where: [], snapshot: false },
      { t: "presence_sub" },
    ]);
    second.receive({ t: "presence", members: [{ socket: 2, state: "bob" }, { socket: 3, state: "cy away" }, { socket: 4, state: "me" }] });
    assert.deepEqual(seen, ["join:1", "join:2", "sync", "join:3", "leave:1", "update:3", "join:4", "sync"]);
    assert.deepEqual([...presence.members.keys()], [2, 3, 4]);
    sub.unsubscribe();
    await connection.close();
  });

  test("close(): presence_unsub; the next read makes a new presence", async () => {
    const connection = await open();
    const socket = FakeWebSocket.last.welcome();
    const presence = connection.presence;
    presence.close();
    assert.deepEqual(socket.frames().slice(-2), [{ t: "presence_sub" }, { t: "presence_unsub" }]);
    const again = connection.presence;
    assert.notEqual(again, presence);
    assert.deepEqual(socket.frames().at(-1), { t: "presence_sub" });
    await connection.close();
    await assert.rejects(again.ready, ConnectionClosed);
    assert.equal(connection.presence, again, "an ended presence is still there to read");
    const closed = await open();
    await closed.close();
    assert.throws(() => closed.presence, ConnectionClosed);
  });
});
