/**
 * What the user steers a connection with, beyond send and call, with a fake WebSocket
 * and fake timers: `reconnect()`, `startClosed`, `minUptime`, the `debug` log, and
 * `setAuth` (the `auth` frame: a call whose answer is the object's `websocket_auth`).
 */

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import {
  type ConnectOptions,
  Connection,
  ConnectionClosed,
  ConnectionLost,
  MethodNotFound,
  Unauthorized,
  connect,
  decodeClient,
  encode,
} from "../src/index.js";
import { FAKE_OPTIONS, FakeWebSocket, openFake, peek, settle } from "./fake-socket.js";

const BASE = FAKE_OPTIONS;
const open = (options: Partial<ConnectOptions> = {}): Promise<Connection> => openFake(options);

beforeEach(() => {
  FakeWebSocket.reset();
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => {
  mock.timers.reset();
});

describe("reconnect()", () => {
  test("closes the socket and opens the next at once; unacknowledged messages are resent in the same session", async () => {
    const connection = await open();
    const first = FakeWebSocket.last.welcome(1);
    const closes: string[] = [];
    connection.on("close", (event) => closes.push(`${event.code}:${event.willReconnect}`));
    const message = peek(connection.send("kept"));
    const call = peek(connection.call("slow"));
    connection.reconnect();
    assert.deepEqual(first.closedWith, { code: 1000, reason: "" });
    assert.deepEqual(closes, ["1000:true"]);
    assert.equal(connection.state, "connecting");
    await settle();
    assert.equal(FakeWebSocket.instances.length, 2, "no backoff delay");
    assert.ok(call.error instanceof ConnectionLost, "a call written on the old socket is lost (SPEC §6.4)");
    const second = FakeWebSocket.last.welcome(2);
    assert.deepEqual(second.frames(), [
      { t: "hello", session: connection.session },
      { t: "msg", data: "kept", id: 1 },
    ]);
    second.receive({ t: "ack", id: 1 });
    await settle();
    assert.equal(message.state, "resolved");
    assert.equal(connection.state, "open");
    await connection.close();
  });

  test("while waiting for the next attempt: the delay is skipped and the retry count starts over", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    FakeWebSocket.last.drop();
    assert.equal(connection.state, "reconnecting");
    assert.equal(connection.retryCount, 1);
    connection.reconnect();
    await settle();
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.equal(connection.retryCount, 0);
    mock.timers.tick(1000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 2, "the cancelled delay opens nothing");
    await connection.close();
  });

  test("takes partysocket's code and reason; refuses codes a client may not send, and a closed connection", async () => {
    const connection = await open();
    const socket = FakeWebSocket.last.welcome();
    assert.throws(() => connection.reconnect(1006), RangeError);
    assert.equal(socket.closedWith, null);
    connection.reconnect(4001, "moving");
    assert.deepEqual(socket.closedWith, { code: 4001, reason: "moving" });
    await connection.close();
    assert.throws(() => connection.reconnect(), ConnectionClosed);
  });
});

describe("startClosed", () => {
  test("opens nothing until reconnect(); state is idle; what is sent waits", async () => {
    const connection = await open({ startClosed: true });
    assert.equal(connection.state, "idle");
    assert.equal(FakeWebSocket.instances.length, 0);
    void connection.send("early");
    mock.timers.tick(60_000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 0);
    const states: string[] = [];
    connection.on("state", (event) => states.push(`${event.previous}>${event.state}`));
    connection.reconnect();
    await settle();
    FakeWebSocket.last.welcome();
    assert.deepEqual(FakeWebSocket.last.frames()[1], { t: "msg", data: "early", id: 1 });
    assert.deepEqual(states, ["idle>connecting", "connecting>open"]);
    await connection.ready;
    await connection.close();
  });

  test("close() of an idle connection resolves at once; connect() refuses startClosed", async () => {
    const connection = await open({ startClosed: true });
    await connection.close();
    assert.equal(connection.state, "closed");
    assert.equal(FakeWebSocket.instances.length, 0);
    await assert.rejects(connect({ ...BASE, startClosed: true }), TypeError);
  });
});

describe("minUptime", () => {
  test("a socket dropped before minUptime keeps the backoff growing", async () => {
    const connection = await open({ minUptime: 1000 });
    FakeWebSocket.last.welcome();
    FakeWebSocket.last.drop();
    assert.equal(connection.retryCount, 1);
    mock.timers.tick(100);
    await settle();
    FakeWebSocket.last.welcome();
    mock.timers.tick(999);
    FakeWebSocket.last.drop(); // up 999 ms: not stable
    assert.equal(connection.retryCount, 2);
    mock.timers.tick(199);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 2, "the second delay is 200 ms");
    mock.timers.tick(1);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 3);
    FakeWebSocket.last.welcome();
    mock.timers.tick(1000);
    assert.equal(connection.retryCount, 0, "up for minUptime: the count starts over");
    await connection.close();
  });

  test("0 starts the count over at each welcome; a negative one is refused", async () => {
    const connection = await open({ minUptime: 0 });
    FakeWebSocket.last.welcome();
    FakeWebSocket.last.drop();
    mock.timers.tick(100);
    await settle();
    FakeWebSocket.last.welcome();
    assert.equal(connection.retryCount, 0);
    await connection.close();
    assert.throws(() => new Connection({ ...BASE, minUptime: -1 }), RangeError);
  });
});

describe("debug", () => {
  test("logs connects, frames by type and id, closes and delays; never the token", async () => {
    const lines: string[] = [];
    const connection = await open({
      token: "s3cret-token",
      query: { user: "ada" },
      debug: (...args) => lines.push(args.map(String).join(" ")),
    });
    const socket = FakeWebSocket.last.welcome(4);
    void connection.send({ text: "private words" });
    connection.setAuth("n3w-secret").catch(() => undefined); // lost with the socket below
    socket.receive({ t: "ack", id: 1 });
    socket.drop(1012);
    await settle();
    const log = lines.join("\n");
    assert.ok(!log.includes("s3cret"), log);
    assert.ok(!log.includes("n3w-secret"), log);
    assert.ok(!log.includes("private words"), log);
    assert.deepEqual(lines, [
      "roost: connecting to ws://127.0.0.1:8787/objects/room/r?user=ada&token=REDACTED",
      "roost: -> hello",
      "roost: <- welcome",
      "roost: open: socket 4",
      "roost: -> msg 1",
      `roost: -> auth ${Number.MAX_SAFE_INTEGER}`,
      "roost: <- ack 1",
      "roost: closed: 1012",
      "roost: reconnecting in 100 ms (retry 1)",
    ]);
    await connection.close();
  });

  test("true logs to console.debug; anything but a boolean or a function is refused", async () => {
    const calls: unknown[][] = [];
    const spy = mock.method(console, "debug", (...args: unknown[]) => {
      calls.push(args);
    });
    try {
      const connection = await open({ debug: true });
      assert.deepEqual(calls[0], ["roost:", "connecting to", "ws://127.0.0.1:8787/objects/room/r"]);
      await connection.close();
    } finally {
      spy.mock.restore();
    }
    assert.throws(() => new Connection({ ...BASE, debug: "yes" as never }), TypeError);
  });
});

describe("setAuth", () => {
  test("sends an auth frame with a call id; resolves with the result; the token goes into later URLs", async () => {
    const connection = await open({ token: "old" });
    const socket = FakeWebSocket.last.welcome();
    const call = peek(connection.call("m"));
    const auth = peek(connection.setAuth("fresh"));
    await settle();
    const frame = socket.frames().at(-1);
    assert.deepEqual(frame, { t: "auth", id: Number.MAX_SAFE_INTEGER - 1, token: "fresh" });
    socket.receive({ t: "result", id: Number.MAX_SAFE_INTEGER - 1, result: { user: "ada" } });
    await settle();
    assert.deepEqual(auth.value, { user: "ada" });
    assert.equal(call.state, "pending");
    socket.drop();
    mock.timers.tick(100);
    await settle();
    assert.match(FakeWebSocket.last.url, /token=fresh$/);
    await connection.close();
  });

  test("without an argument, the token function gives a fresh one (and stays the option)", async () => {
    let n = 0;
    const connection = await open({ token: async () => `tok${++n}` });
    assert.match(FakeWebSocket.last.url, /token=tok1$/);
    const socket = FakeWebSocket.last.welcome();
    const auth = peek(connection.setAuth());
    await settle();
    assert.deepEqual(socket.frames().at(-1), { t: "auth", id: Number.MAX_SAFE_INTEGER, token: "tok2" });
    socket.receive({ t: "result", id: Number.MAX_SAFE_INTEGER, result: null });
    await settle();
    assert.equal(auth.state, "resolved");
    assert.equal(auth.value, null);
    socket.drop();
    mock.timers.tick(100);
    await settle();
    assert.match(FakeWebSocket.last.url, /token=tok3$/);
    await connection.close();
  });

  test("the hub's refusals reject with the typed error; a lost socket with ConnectionLost", async () => {
    const connection = await open();
    const socket = FakeWebSocket.last.welcome();
    const refused = connection.setAuth("bad");
    await settle();
    const id = Number.MAX_SAFE_INTEGER;
    socket.receive({ t: "error", id, code: "unauthorized", message: "token expired", retryable: false });
    const error = await refused.then(
      () => assert.fail("resolved"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof Unauthorized);
    assert.equal(error.code, "unauthorized");
    assert.equal(error.remote, true);
    assert.equal(connection.state, "open", "a refused token does not close the socket by itself");

    const missing = connection.setAuth("x");
    await settle();
    socket.receive({ t: "error", id: id - 1, code: "method_not_found", message: "no websocket_auth", retryable: false });
    await assert.rejects(missing, MethodNotFound);

    const lost = connection.setAuth("y");
    await settle();
    socket.drop();
    await assert.rejects(lost, ConnectionLost);
    await connection.close();
  });

  test("a refused or lost token does not go into later URLs", async () => {
    const connection = await open({ token: "old" });
    let socket = FakeWebSocket.last.welcome();
    const refused = connection.setAuth("bad");
    await settle();
    socket.receive({ t: "error", id: Number.MAX_SAFE_INTEGER, code: "unauthorized", message: "no", retryable: false });
    await assert.rejects(refused, Unauthorized);
    socket.drop();
    mock.timers.tick(100);
    await settle();
    assert.match(FakeWebSocket.last.url, /token=old$/);
    socket = FakeWebSocket.last.welcome();
    const lost = connection.setAuth("unanswered");
    await settle();
    socket.drop();
    await assert.rejects(lost, ConnectionLost);
    mock.timers.tick(1000);
    await settle();
    assert.match(FakeWebSocket.last.url, /token=old$/);
    await connection.close();
  });

  test("waits for the socket when not welcomed; refuses empty tokens, none at all, and a closed connection", async () => {
    const connection = await open();
    const auth = peek(connection.setAuth("t"));
    await settle();
    const socket = FakeWebSocket.last.welcome();
    assert.deepEqual(socket.frames().slice(1), [{ t: "auth", id: Number.MAX_SAFE_INTEGER, token: "t" }]);
    socket.receive({ t: "result", id: Number.MAX_SAFE_INTEGER, result: 1 });
    await settle();
    assert.equal(auth.value, 1);
    await assert.rejects(connection.setAuth(""), TypeError);
    const none = await open();
    await assert.rejects(none.setAuth(), TypeError, "no token option");
    await none.close();
    const empty = await open({ token: () => "" });
    await assert.rejects(empty.setAuth(), TypeError);
    await empty.close();
    await connection.close();
    await assert.rejects(connection.setAuth("t"), ConnectionClosed);
  });

  test("the auth frame's wire form, and what the codec refuses", () => {
    const text = encode({ t: "auth", id: 7, token: "abc" });
    assert.equal(text, '{"t":"auth","id":7,"token":"abc"}');
    assert.deepEqual(decodeClient(text), { t: "auth", id: 7, token: "abc" });
    assert.throws(() => decodeClient('{"t":"auth","id":7,"token":""}'), /token/);
    assert.throws(() => decodeClient('{"t":"auth","id":7}'), /token/);
    assert.throws(() => decodeClient('{"t":"auth","token":"a"}'), /id/);
  });
});
