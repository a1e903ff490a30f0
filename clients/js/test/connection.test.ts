/**
 * The connection's rules with a fake WebSocket and fake timers: hello first, exactly-once
 * resends, calls, reconnect delays and rules (SPEC §7.3), keep-alive, the end.
 */

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";

import {
  BadFrame,
  BufferFull,
  CallAborted,
  CallTimeout,
  ConnectFailed,
  type ConnectOptions,
  Connection,
  ConnectionClosed,
  ConnectionLost,
  MessageTooBig,
  HandshakeRejected,
  MethodNotFound,
  ObjectError,
  RoostError,
  connect,
} from "../src/index.js";
import { FAKE_OPTIONS, FakeWebSocket, openFake, peek, settle } from "./fake-socket.js";

const BASE: ConnectOptions = { ...FAKE_OPTIONS, room: "r 1" };

const open = (options: Partial<ConnectOptions> = {}): Promise<Connection> => openFake(options, BASE);

/** What a connection dispatched, as short strings. */
function record(connection: Connection): string[] {
  const seen: string[] = [];
  connection.on("state", (event) => seen.push(`state:${event.state}`));
  connection.on("open", (event) => seen.push(`open:${event.socket}:${event.reconnected}`));
  connection.on("close", (event) => seen.push(`close:${event.code}:${event.willReconnect}`));
  connection.on("error", (event) => seen.push(`error:${event.error.code}`));
  connection.on("message", (event) => seen.push(`message:${typeof event.data === "string" ? event.data : "binary"}`));
  return seen;
}

beforeEach(() => {
  FakeWebSocket.reset();
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => {
  mock.timers.reset();
});

describe("opening", () => {
  test("hello with the session first, nothing else before welcome, then open", async () => {
    const connection = await open({ query: { user: "ada", none: null }, token: "t0k" });
    const seen = record(connection);
    const socket = FakeWebSocket.last;
    assert.equal(socket.url, "ws://127.0.0.1:8787/objects/room/r%201?user=ada&token=t0k");
    assert.deepEqual(socket.protocols, ["roost.v1"]);
    assert.equal(socket.binaryType, "arraybuffer");
    assert.equal(connection.state, "connecting");
    void connection.send("early");
    const call = peek(connection.call("m"));
    socket.accept();
    assert.deepEqual(socket.sent, [`{"t":"hello","session":"${connection.session}"}`]);
    const ready = peek(connection.ready);
    socket.receive({ t: "welcome", session: connection.session, socket: 7 });
    assert.deepEqual(socket.frames().slice(1), [
      { t: "msg", data: "early", id: 1 },
      { t: "call", id: Number.MAX_SAFE_INTEGER, method: "m", args: [], kwargs: {} },
    ]);
    await settle();
    assert.equal(ready.state, "resolved");
    assert.equal(call.state, "pending");
    assert.equal(connection.state, "open");
    assert.equal(connection.socketId, 7);
    assert.deepEqual(seen, ["state:open", "open:7:false"]);
  });

  test("a new session for every connection, unless given; partysocket's id goes as _pk", async () => {
    const connection = await open({ session: "my-session_1", id: "user 7" });
    assert.equal(connection.session, "my-session_1");
    assert.equal(FakeWebSocket.last.url, "ws://127.0.0.1:8787/objects/room/r%201?_pk=user+7");
    FakeWebSocket.last.welcome();
    assert.deepEqual(FakeWebSocket.last.frames()[0], { t: "hello", session: "my-session_1" });
    assert.notEqual(new Connection(BASE).session, new Connection(BASE).session);
    assert.throws(() => new Connection({ ...BASE, session: "not ok" }), TypeError);
    assert.throws(() => new Connection({ ...BASE, WebSocket: undefined as never }), /WebSocket/);
    await connection.close();
  });

  test("query and token functions are called before every connect", async () => {
    let n = 0;
    const connection = await open({
      query: async () => ({ n: String(++n) }),
      token: () => `tok${n}`,
    });
    assert.match(FakeWebSocket.last.url, /\?n=1&token=tok1$/);
    FakeWebSocket.last.welcome();
    FakeWebSocket.last.drop();
    mock.timers.tick(100);
    await settle();
    assert.match(FakeWebSocket.last.url, /\?n=2&token=tok2$/);
    await connection.close();
  });

  test("connect() resolves at welcome", async () => {
    const pending = connect(BASE);
    await settle();
    FakeWebSocket.last.welcome(3);
    const connection = await pending;
    assert.equal(connection.state, "open");
    assert.equal(connection.socketId, 3);
    await connection.close();
  });

  test("connect() retries a failed first attempt, then resolves at welcome", async () => {
    const pending = peek(connect(BASE));
    await settle();
    FakeWebSocket.last.refuse();
    mock.timers.tick(100);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.equal(pending.state, "pending");
    FakeWebSocket.last.welcome();
    await settle();
    assert.equal(pending.state, "resolved");
    await pending.value?.close();
  });

  test("connect() with maxRetries: 0 rejects with ConnectFailed when the first attempt fails", async () => {
    const pending = connect({ ...BASE, maxRetries: 0 });
    await settle();
    FakeWebSocket.last.refuse();
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ConnectFailed);
      assert.deepEqual([error.code, error.retryable, error.closeCode], ["connect_failed", true, 1006]);
      assert.equal(error.message, "gave up after 1 failed attempt: could not connect: connect ECONNREFUSED");
      return true;
    });
    mock.timers.tick(10_000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test("a refused upgrade (HTTP 4xx, as the ws package reports it) ends the connection at once", async () => {
    const pending = connect(BASE);
    await settle();
    FakeWebSocket.last.rejectUpgrade(404);
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof HandshakeRejected);
      assert.deepEqual([error.code, error.status, error.retryable], ["handshake_rejected", 404, false]);
      assert.equal(error.message, "the hub refused the WebSocket upgrade with HTTP 404");
      return true;
    });
    mock.timers.tick(10_000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test("an upgrade refused with 503 is retried", async () => {
    const connection = await open();
    FakeWebSocket.last.rejectUpgrade(503);
    assert.equal(connection.state, "reconnecting");
    mock.timers.tick(100);
    await settle();
    FakeWebSocket.last.welcome();
    await connection.ready;
    await connection.close();
  });

  test("no welcome within connectionTimeout: the socket is dropped and another one tried", async () => {
    const connection = await open({ connectionTimeout: 500 });
    const seen = record(connection);
    FakeWebSocket.last.accept();
    mock.timers.tick(499);
    assert.equal(FakeWebSocket.last.closedWith, null);
    mock.timers.tick(1);
    assert.deepEqual(FakeWebSocket.last.closedWith, { code: 4000, reason: "dropped by the client" });
    assert.deepEqual(seen, ["state:reconnecting", "close:1006:true"]);
    mock.timers.tick(100);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 2);
    await connection.close();
  });

  test("a hub that does not select roost.v1 ends the connection", async () => {
    const connection = await open();
    const seen = record(connection);
    FakeWebSocket.last.accept("");
    await settle();
    assert.equal(connection.state, "closed");
    assert.ok(connection.error instanceof HandshakeRejected);
    assert.equal(connection.error.status, null);
    assert.equal(connection.error.message, 'the hub did not select the subprotocol roost.v1 (got "")');
    assert.deepEqual(FakeWebSocket.last.closedWith, { code: 1002, reason: undefined });
    assert.deepEqual(seen, ["state:closed", "error:handshake_rejected", "close:1002:false"]);
  });

  test("an error answering hello (socket stays open) ends the connection", async () => {
    const connection = await open();
    FakeWebSocket.last.accept();
    FakeWebSocket.last.receive({ t: "error", id: null, code: "bad_frame", message: "session is invalid", retryable: false });
    await assert.rejects(connection.ready, (error: unknown) => error instanceof BadFrame && error.remote);
    assert.equal(connection.state, "closed");
  });
});

describe("exactly-once messages", () => {
  test("numbered from 1, acknowledged, resolved", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const first = peek(connection.send("a"));
    const second = peek(connection.send({ b: [1, 2] }));
    assert.deepEqual(FakeWebSocket.last.sent.slice(1), ['{"t":"msg","data":"a","id":1}', '{"t":"msg","data":{"b":[1,2]},"id":2}']);
    assert.equal(connection.bufferedCount, 2);
    FakeWebSocket.last.receive({ t: "ack", id: 1 });
    await settle();
    assert.deepEqual([first.state, second.state, connection.bufferedCount], ["resolved", "pending", 1]);
    FakeWebSocket.last.receive({ t: "ack", id: 1 }); // a duplicate ack changes nothing
    FakeWebSocket.last.receive({ t: "ack", id: 2 });
    await settle();
    assert.deepEqual([second.state, connection.bufferedCount], ["resolved", 0]);
    await connection.close();
  });

  test("after a drop: hello with the same session, unacknowledged in order, then new ones", async () => {
    const connection = await open();
    const first = FakeWebSocket.last.welcome(1);
    const seen = record(connection);
    for (const text of ["a", "b", "c"]) void connection.send(text);
    first.receive({ t: "ack", id: 1 });
    first.drop(1006);
    assert.equal(connection.state, "reconnecting");
    void connection.send("d"); // while away: waits, after the resends
    mock.timers.tick(99);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 1, "waits minReconnectionDelay");
    mock.timers.tick(1);
    await settle();
    const second = FakeWebSocket.last;
    assert.notEqual(second, first);
    second.accept();
    assert.deepEqual(second.frames(), [{ t: "hello", session: connection.session }]);
    second.welcome(2);
    assert.deepEqual(second.frames().slice(1), [
      { t: "msg", data: "b", id: 2 },
      { t: "msg", data: "c", id: 3 },
      { t: "msg", data: "d", id: 4 },
    ]);
    void connection.send("e");
    assert.deepEqual(second.frames().at(-1), { t: "msg", data: "e", id: 5 });
    assert.deepEqual(seen, [
      "state:reconnecting",
      "close:1006:true",
      "state:connecting",
      "state:open",
      "open:2:true",
    ]);
    await connection.close();
  });

  test("an error answering a message settles it: rejected, reported, never resent", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const seen = record(connection);
    const failed = connection.send("boom");
    void connection.send("fine");
    FakeWebSocket.last.receive({ t: "error", id: 1, code: "object_error", message: "ValueError: boom", retryable: false });
    await assert.rejects(failed, (error: unknown) => {
      assert.ok(error instanceof ObjectError);
      assert.deepEqual([error.code, error.remote, error.id, error.retryable], ["object_error", true, 1, false]);
      return true;
    });
    assert.ok(seen.includes("error:object_error"));
    FakeWebSocket.last.drop();
    mock.timers.tick(100);
    await settle();
    FakeWebSocket.last.welcome();
    assert.deepEqual(FakeWebSocket.last.frames().slice(1), [{ t: "msg", data: "fine", id: 2 }]);
    await connection.close();
  });

  test("at most once on request: not numbered, not resent", async () => {
    const connection = await open();
    const queued = peek(connection.send("queued", { exactlyOnce: false }));
    FakeWebSocket.last.welcome();
    await settle();
    assert.equal(queued.state, "resolved", "written, nothing more to wait for");
    void connection.send("now", { exactlyOnce: false });
    assert.deepEqual(FakeWebSocket.last.frames().slice(1), [{ t: "msg", data: "queued" }, { t: "msg", data: "now" }]);
    assert.equal(connection.bufferedCount, 0);
    FakeWebSocket.last.drop();
    mock.timers.tick(100);
    await settle();
    FakeWebSocket.last.welcome();
    assert.equal(FakeWebSocket.last.sent.length, 1, "only hello on the new socket");
    await connection.close();
  });

  test("binary data both ways: at most once, delivered as ArrayBuffer", async () => {
    const connection = await open();
    const seen = record(connection);
    void connection.send(new Uint8Array([1, 2, 3]));
    FakeWebSocket.last.welcome();
    assert.deepEqual(FakeWebSocket.last.sent.slice(1), [new Uint8Array([1, 2, 3])]);
    FakeWebSocket.last.receive(new Uint8Array([9]).buffer);
    assert.deepEqual(seen.at(-1), "message:binary");
    await connection.close();
  });

  test("maxEnqueuedMessages: one more throws BufferFull at once, room again after acks", async () => {
    const connection = await open({ maxEnqueuedMessages: 2 });
    void connection.send("a");
    void connection.send("b");
    assert.throws(() => connection.send("c"), BufferFull);
    assert.throws(() => connection.call("m"), BufferFull);
    FakeWebSocket.last.welcome();
    assert.throws(() => connection.send("c"), BufferFull, "unacknowledged messages count");
    FakeWebSocket.last.receive({ t: "ack", id: 1 });
    void connection.send("c");
    assert.deepEqual(FakeWebSocket.last.frames().at(-1), { t: "msg", data: "c", id: 3 });
    await connection.close();
  });

  test("a message over maxMessageSize throws message_too_big at once, nothing sent", async () => {
    const connection = await open({ maxMessageSize: 64 });
    FakeWebSocket.last.welcome();
    assert.throws(
      () => connection.send("é".repeat(30)),
      (error: unknown) =>
        error instanceof MessageTooBig &&
        error.code === "message_too_big" &&
        !error.retryable &&
        /^message too large: 88 bytes, expected at most 64/.test(error.message),
    );
    assert.throws(() => connection.send(new Uint8Array(65)), /message_too_big|too large/);
    void connection.send("x".repeat(30));
    assert.equal(connection.bufferedCount, 1);
    assert.deepEqual(FakeWebSocket.last.frames().at(-1), { t: "msg", data: "x".repeat(30), id: 1 }, "the refused ones used no id");
    assert.throws(() => connection.send(undefined as never), TypeError);
    assert.throws(() => connection.send((() => 1) as never), TypeError);
    await connection.close();
  });

  test("flush() resolves once every message sent so far is answered", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    void connection.send("a");
    void connection.send("b").catch(() => undefined);
    const flushed = peek(connection.flush());
    void connection.send("c");
    FakeWebSocket.last.receive({ t: "ack", id: 1 });
    await settle();
    assert.equal(flushed.state, "pending");
    FakeWebSocket.last.receive({ t: "error", id: 2, code: "object_error", message: "x", retryable: false });
    await settle();
    assert.equal(flushed.state, "resolved", "message 3 was sent after flush()");
    const later = peek(connection.flush());
    await settle();
    assert.equal(later.state, "pending", "message 3 is not answered yet");
    await connection.close();
    assert.equal(later.state, "rejected");
    assert.ok(later.error instanceof ConnectionClosed);
  });
});

describe("calls", () => {
  test("results and errors, by id", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const add = connection.call<number>("add", [1, 2], { scale: 3 });
    const missing = connection.call("nope");
    const [addFrame, missingFrame] = FakeWebSocket.last.frames().slice(1);
    assert.deepEqual(addFrame, { t: "call", id: Number.MAX_SAFE_INTEGER, method: "add", args: [1, 2], kwargs: { scale: 3 } });
    assert.equal(FakeWebSocket.last.sent[1], `{"t":"call","id":${Number.MAX_SAFE_INTEGER},"method":"add","args":[1,2],"kwargs":{"scale":3}}`);
    assert.equal(missingFrame?.t === "call" && missingFrame.id, Number.MAX_SAFE_INTEGER - 1);
    FakeWebSocket.last.receive({ t: "error", id: Number.MAX_SAFE_INTEGER - 1, code: "method_not_found", message: "no method 'nope'", retryable: false });
    FakeWebSocket.last.receive({ t: "result", id: Number.MAX_SAFE_INTEGER, result: 9 });
    assert.equal(await add, 9);
    await assert.rejects(missing, (error: unknown) => {
      assert.ok(error instanceof MethodNotFound);
      assert.deepEqual(
        [error.code, error.message, error.retryable, error.remote, error.id],
        ["method_not_found", "no method 'nope'", false, true, Number.MAX_SAFE_INTEGER - 1],
      );
      return true;
    });
    await connection.close();
  });

  test("a call in flight when the socket drops fails with ConnectionLost (retryable); a call not yet written waits", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const inFlight = connection.call("slow");
    FakeWebSocket.last.drop(1012, "restart");
    await assert.rejects(inFlight, (error: unknown) => {
      assert.ok(error instanceof ConnectionLost);
      assert.deepEqual([error.code, error.retryable, error.closeCode, error.reason], ["connection_lost", true, 1012, "restart"]);
      assert.match(error.message, /call "slow": connection lost: closed with 1012 \(restart\)/);
      return true;
    });
    const later = connection.call("later");
    mock.timers.tick(100);
    await settle();
    FakeWebSocket.last.welcome();
    const frame = FakeWebSocket.last.frames()[1];
    assert.ok(frame?.t === "call" && frame.method === "later");
    FakeWebSocket.last.receive({ t: "result", id: frame.id, result: null });
    assert.equal(await later, null);
    await connection.close();
  });

  test("timeout: CallTimeout, a late answer is ignored, a waiting call leaves the outbox", async () => {
    const connection = await open({ callTimeout: 1000 });
    const waiting = connection.call("queued");
    assert.equal(connection.bufferedCount, 1);
    mock.timers.tick(1000);
    await assert.rejects(waiting, (error: unknown) => error instanceof CallTimeout && error.code === "timeout" && error.retryable);
    assert.equal(connection.bufferedCount, 0);
    FakeWebSocket.last.welcome();
    assert.equal(FakeWebSocket.last.sent.length, 1, "the timed-out call is never written");
    const slow = connection.call("slow", [], {}, { timeout: 50 });
    mock.timers.tick(50);
    await assert.rejects(slow, CallTimeout);
    FakeWebSocket.last.receive({ t: "result", id: Number.MAX_SAFE_INTEGER - 1, result: 1 });
    await connection.close();
  });

  test("abort signal", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const controller = new AbortController();
    const call = connection.call("m", [], {}, { signal: controller.signal });
    controller.abort();
    await assert.rejects(call, (error: unknown) => error instanceof CallAborted && error.code === "aborted");
    assert.throws(() => connection.call("m", [], {}, { signal: controller.signal }), /aborted/);
    await connection.close();
  });
});

describe("reconnecting", () => {
  test("delays grow by the factor up to the maximum, and start over once a socket stayed up minUptime", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const delays: number[] = [];
    const waitForSocket = async (): Promise<number> => {
      const before = FakeWebSocket.instances.length;
      let waited = 0;
      while (FakeWebSocket.instances.length === before) {
        mock.timers.tick(10);
        waited += 10;
        await settle();
      }
      return waited;
    };
    FakeWebSocket.last.drop();
    for (let i = 0; i < 6; i++) {
      delays.push(await waitForSocket());
      FakeWebSocket.last.accept();
      FakeWebSocket.last.drop(); // up, but never welcomed: the next attempt waits longer
    }
    assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
    assert.equal(connection.retryCount, 7, "the 7th attempt is scheduled");
    await waitForSocket();
    FakeWebSocket.last.welcome();
    mock.timers.tick(4999);
    assert.equal(connection.retryCount, 7, "not up for minUptime (default 5000 ms) yet");
    mock.timers.tick(1);
    assert.equal(connection.retryCount, 0);
    FakeWebSocket.last.drop();
    assert.equal(await waitForSocket(), 100, "a socket up for minUptime starts the delays over");
    await connection.close();
  });

  for (const code of [1001, 1006, 1008, 1011, 1012, 1013]) {
    test(`reconnects after ${code} from the hub`, async () => {
      const connection = await open();
      FakeWebSocket.last.welcome();
      const seen = record(connection);
      FakeWebSocket.last.drop(code);
      assert.deepEqual(seen, ["state:reconnecting", `close:${code}:true`]);
      mock.timers.tick(100);
      await settle();
      assert.equal(FakeWebSocket.instances.length, 2);
      await connection.close();
    });
  }

  for (const code of [1002, 1007, 3000, 4999]) {
    test(`does not reconnect after ${code}: the connection ends`, async () => {
      const connection = await open();
      FakeWebSocket.last.welcome();
      const seen = record(connection);
      const message = connection.send("x");
      const call = connection.call("m");
      FakeWebSocket.last.drop(code, "why");
      assert.equal(connection.state, "closed");
      assert.ok(connection.error instanceof ConnectionClosed);
      assert.equal(connection.error.closeCode, code);
      await assert.rejects(message, ConnectionClosed);
      await assert.rejects(call, ConnectionLost, "the call was in flight");
      assert.deepEqual(seen, ["state:closed", "error:connection_closed", `close:${code}:false`]);
      mock.timers.tick(100_000);
      await settle();
      assert.equal(FakeWebSocket.instances.length, 1);
      assert.throws(() => connection.send("y"), ConnectionClosed);
    });
  }

  test("1000 from the hub: the object closed it on purpose; ended without an error", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const seen = record(connection);
    const iterator = connection[Symbol.asyncIterator]();
    const message = connection.send("x");
    FakeWebSocket.last.drop(1000, "bye");
    assert.equal(connection.state, "closed");
    assert.equal(connection.error, null);
    await assert.rejects(message, (error: unknown) => {
      assert.ok(error instanceof ConnectionClosed);
      assert.deepEqual([error.closeCode, error.reason], [1000, "bye"]);
      assert.equal(error.message, "the hub closed the connection: closed with 1000 (bye)");
      return true;
    });
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    assert.deepEqual(seen, ["state:closed", "close:1000:false"]);
    mock.timers.tick(100_000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test("hub_stopping: reported, 1001, a retryable ConnectionLost for the call, then back", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const seen = record(connection);
    const call = connection.call("m");
    FakeWebSocket.last.receive({ t: "error", id: null, code: "hub_stopping", message: "the hub is stopping", retryable: true });
    FakeWebSocket.last.drop(1001);
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof ConnectionLost);
      assert.ok(error.retryable);
      assert.ok(error.cause instanceof RoostError && error.cause.code === "hub_stopping");
      return true;
    });
    assert.deepEqual(seen, ["error:hub_stopping", "state:reconnecting", "close:1001:true"]);
    await connection.close();
  });

  test("message_too_big then 1009: the connection ends with that error", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const message = connection.send("big");
    FakeWebSocket.last.receive({ t: "error", id: null, code: "message_too_big", message: "message too large", retryable: false });
    FakeWebSocket.last.drop(1009);
    await assert.rejects(message, (error: unknown) => error instanceof RoostError && error.code === "message_too_big" && error.closeCode === 1009);
    assert.equal(connection.error?.code, "message_too_big");
  });

  test("1009 without an error frame first: the connection ends with message_too_big", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const message = connection.send("big");
    FakeWebSocket.last.drop(1009, "frame too big");
    await assert.rejects(message, (error: unknown) => {
      assert.ok(error instanceof MessageTooBig);
      assert.deepEqual([error.code, error.closeCode, error.retryable, error.remote], ["message_too_big", 1009, false, false]);
      assert.equal(error.message, 'the hub closed the connection with 1009 (message too big): "frame too big"');
      return true;
    });
    await connection.close(); // resolves at once: the connection had ended already
  });

  test("maxRetries: 0 never reconnects: a drop ends the connection with ConnectionLost", async () => {
    const connection = await open({ maxRetries: 0 });
    FakeWebSocket.last.welcome();
    FakeWebSocket.last.drop(1012);
    assert.equal(connection.state, "closed");
    assert.ok(connection.error instanceof ConnectionLost);
    assert.equal(connection.error.closeCode, 1012);
  });

  test("maxRetries: gives up with ConnectFailed", async () => {
    const connection = await open({ maxRetries: 2 });
    FakeWebSocket.last.welcome();
    const message = connection.send("x");
    FakeWebSocket.last.drop();
    for (let i = 0; i < 2; i++) {
      mock.timers.tick(1000);
      await settle();
      FakeWebSocket.last.refuse();
    }
    assert.equal(FakeWebSocket.instances.length, 3);
    assert.equal(connection.state, "closed");
    assert.ok(connection.error instanceof ConnectFailed);
    assert.equal(connection.error.message, "gave up after 2 failed attempts: could not connect: connect ECONNREFUSED");
    await assert.rejects(message, ConnectFailed);
  });

  test("keep-alive: ping after pingInterval; no answer within pingTimeout drops the socket", async () => {
    const connection = await open({ pingInterval: 1000, pingTimeout: 300 });
    const socket = FakeWebSocket.last.welcome();
    mock.timers.tick(1000);
    assert.deepEqual(socket.frames().at(-1), { t: "ping" });
    socket.receive({ t: "pong" });
    mock.timers.tick(300);
    assert.equal(connection.state, "open");
    mock.timers.tick(700);
    assert.equal(socket.frames().filter((frame) => frame.t === "ping").length, 2);
    mock.timers.tick(300);
    assert.equal(connection.state, "reconnecting");
    assert.deepEqual(socket.closedWith, { code: 4000, reason: "dropped by the client" });
    await connection.close();
  });
});

describe("receiving and ending", () => {
  test("messages as events and through async iteration, in order; iteration ends at close()", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const seen = record(connection);
    const received: (string | ArrayBuffer)[] = [];
    const loop = (async () => {
      for await (const message of connection) received.push(message);
    })();
    FakeWebSocket.last.receive({ t: "msg", data: "one" }).receive({ t: "msg", data: "two" });
    await settle();
    await connection.close();
    await loop;
    assert.deepEqual(received, ["one", "two"]);
    assert.deepEqual(seen.filter((entry) => entry.startsWith("message")), ["message:one", "message:two"]);
  });

  test("iteration throws the error that ended the connection", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const iterator = connection[Symbol.asyncIterator]();
    FakeWebSocket.last.receive({ t: "msg", data: "last" });
    FakeWebSocket.last.drop(1002);
    assert.deepEqual(await iterator.next(), { value: "last", done: false });
    await assert.rejects(iterator.next(), ConnectionClosed);
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
  });

  test("an invalid frame from the hub is reported and skipped", async () => {
    const connection = await open();
    const errors: unknown[] = [];
    connection.on("error", (event) => errors.push(event.error));
    FakeWebSocket.last.welcome();
    FakeWebSocket.last.receive('{"t":"msg","data":{"not":"text"}}');
    FakeWebSocket.last.receive("nonsense");
    FakeWebSocket.last.receive({ t: "msg", data: "still here" });
    assert.equal(errors.length, 2);
    assert.ok(errors.every((error) => error instanceof BadFrame && error.code === "bad_frame" && !error.remote));
    assert.equal(connection.state, "open");
    await connection.close();
  });

  test("close(): no reconnect, everything waiting rejected with ConnectionClosed, resolves when closed", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    const seen = record(connection);
    const message = connection.send("x");
    const call = connection.call("m");
    const closing = connection.close(4001, "bye");
    assert.equal(connection.state, "closed");
    assert.deepEqual(FakeWebSocket.last.closedWith, { code: 4001, reason: "bye" });
    await closing;
    await assert.rejects(message, ConnectionClosed);
    await assert.rejects(call, ConnectionClosed);
    assert.equal(connection.error, null);
    assert.deepEqual(seen, ["state:closed", "close:4001:false"]);
    assert.equal(connection.close(), closing, "close() twice is the same close");
    assert.throws(() => connection.call("m"), ConnectionClosed);
    mock.timers.tick(100_000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test("close() while waiting to reconnect cancels the attempt", async () => {
    const connection = await open();
    FakeWebSocket.last.welcome();
    FakeWebSocket.last.drop();
    await connection.close();
    mock.timers.tick(100_000);
    await settle();
    assert.equal(FakeWebSocket.instances.length, 1);
  });
});
