/**
 * The SDK in Node against a real hub (`roost serve test/fixtures/app.py` in a child
 * process): messages, calls and their typed errors, exactly-once delivery across cut
 * connections, eviction and a hub killed mid-call, the hub's own refusals.
 */

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import WebSocket from "ws";

import {
  type ConnectOptions,
  Connection,
  type ConnectionEventMap,
  ConnectionLost,
  HandshakeRejected,
  HubStopping,
  RoostError,
  connect,
  decodeHub,
} from "../src/index.js";
import { Cleanup, HubProcess, Proxy, TIMEOUT, tempDir, within } from "./harness.js";

let cleanup: Cleanup;

beforeEach(() => {
  cleanup = new Cleanup();
});

afterEach(async () => {
  await cleanup.run();
});

/** Quick reconnects, so the tests spend their time on the hub, not on waiting. */
const FAST: Partial<ConnectOptions> = {
  minReconnectionDelay: 10,
  maxReconnectionDelay: 200,
  reconnectionDelayGrowFactor: 2,
  connectionTimeout: TIMEOUT,
};

async function open(host: string, room: string, options: Partial<ConnectOptions> = {}): Promise<Connection> {
  const connection = await within(connect({ host, party: "room", room, WebSocket, ...FAST, ...options }), `connect to ${room}`);
  cleanup.add(() => connection.close());
  return connection;
}

function next<K extends keyof ConnectionEventMap>(connection: Connection, type: K, what: string = type): Promise<ConnectionEventMap[K]> {
  return within(
    new Promise<ConnectionEventMap[K]>((resolve) => connection.addEventListener(type, resolve, { once: true })),
    what,
  );
}

async function startHub(): Promise<HubProcess> {
  return HubProcess.start(cleanup, tempDir(cleanup));
}

/** `promise`, marked as handled now: a rejection before the test awaits it is not "unhandled". */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

async function rejection(promise: Promise<unknown>, what: string): Promise<RoostError> {
  try {
    await within(promise, what);
  } catch (error) {
    assert.ok(error instanceof RoostError, `${what}: not a RoostError: ${String(error)}`);
    return error;
  }
  assert.fail(`${what}: resolved`);
}

function texts(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

test("send and receive: answers, broadcasts, binary, async iteration", async () => {
  const hub = await startHub();
  const ada = await open(hub.host, "lobby");
  const bob = await open(hub.host, "lobby");
  assert.equal(ada.state, "open");
  assert.notEqual(ada.session, bob.session);
  const adaMessages = ada[Symbol.asyncIterator]();
  const bobMessages = bob[Symbol.asyncIterator]();

  await within(ada.send("echo:hello"), "ack of echo");
  assert.deepEqual(await within(adaMessages.next(), "echo"), { value: "hello", done: false });
  await within(ada.send("broadcast:to all"), "ack of broadcast");
  assert.deepEqual(await within(adaMessages.next(), "ada's broadcast"), { value: "to all", done: false });
  assert.deepEqual(await within(bobMessages.next(), "bob's broadcast"), { value: "to all", done: false });

  const binary = next(ada, "message", "binary answer");
  await within(ada.send(new Uint8Array([1, 2, 3])), "binary written");
  const event = await binary;
  assert.ok(event.data instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(event.data)], [3, 2, 1]);

  await within(bob.send({ json: ["é", 1] }), "ack of JSON data");
  const seen = await within(ada.call<string[]>("seen"), "seen()");
  assert.deepEqual(seen, ["echo:hello", "broadcast:to all", '{"json":["é",1]}']);
  await adaMessages.return?.();
});

test("calls: results, and typed errors for unknown methods, bad arguments and raising methods", async () => {
  const hub = await startHub();
  const room = await open(hub.host, "rpc");
  assert.equal(await within(room.call("add", [1, 2], { scale: 3 }), "add"), 9);
  assert.equal(await within(room.call("add", [], { a: 2, b: 5 }), "add with kwargs"), 7);
  assert.deepEqual(await within(room.call("describe", [[1, 2, 3]], { label: "x" }), "describe"), {
    label: "x",
    sum: 6,
    name: "rpc",
  });

  for (const method of ["nope", "_private", "websocket_message", "fetch"]) {
    const error = await rejection(room.call(method), method);
    assert.deepEqual([error.code, error.retryable, error.remote], ["method_not_found", false, true], method);
    assert.ok(error.id !== null);
  }
  for (const [args, kwargs] of [
    [["x", 2], {}],
    [[1], {}],
    [[1, 2, 3, 4], {}],
    [[1, 2], { nope: 1 }],
  ] as const) {
    const error = await rejection(room.call("add", [...args], kwargs), `add(${JSON.stringify(args)})`);
    assert.deepEqual([error.code, error.retryable, error.remote], ["invalid_arguments", false, true]);
  }
  const failed = await rejection(room.call("fail", ["t"]), "fail()");
  assert.deepEqual([failed.code, failed.retryable, failed.remote], ["object_error", false, true]);
  assert.deepEqual(await within(room.call("seen"), "seen()"), [], "fail() rolled back its write");
});

test("a message whose handler raises: object_error, its writes rolled back, not resent", async () => {
  const hub = await startHub();
  const room = await open(hub.host, "boom");
  const errors: RoostError[] = [];
  room.on("error", (event) => errors.push(event.error));
  const error = await rejection(room.send("boom:x"), "boom");
  assert.deepEqual([error.code, error.retryable, error.remote, error.id], ["object_error", false, true, 1]);
  assert.deepEqual(errors, [error], "also reported as an error event");
  await within(room.send("after"), "ack of the next message");
  assert.deepEqual(await within(room.call("seen"), "seen()"), ["after"]);
  assert.equal(room.bufferedCount, 0);
});

test("exactly once across connections cut mid-stream in both directions", async () => {
  const hub = await startHub();
  const proxy = await Proxy.start(cleanup, () => hub.port);
  // Connections 1-6 are cut after some bytes: from the client (mid-frame, before the hub
  // got everything) or from the hub (acknowledgements lost after the hub committed).
  proxy.cutAfter((n) => (n > 6 ? undefined : n % 2 === 0 ? { up: 900 + 700 * n } : { downText: ['"t":"ack"', 10 * n] }));
  const room = await open(proxy.host, "cut");
  let opens = 0;
  room.on("open", () => opens++);
  const expected = texts("m", 400);
  const sends = expected.map((text) => room.send(text));
  await within(room.flush(), "every message acknowledged", 3);
  await within(Promise.all(sends), "every send resolved");
  assert.equal(proxy.connections, 7);
  assert.equal(opens, 6, "every connection after the first was welcomed");
  assert.deepEqual(await within(room.call("seen"), "seen()"), expected, "each handled once, in order");
  assert.equal(room.bufferedCount, 0);
});

test("exactly once across eviction: the record lives in the object's storage", async () => {
  const hub = await startHub();
  const proxy = await Proxy.start(cleanup, () => hub.port);
  // The first connection loses the hub's answers after 25 acknowledgements.
  proxy.cutAfter((n) => (n === 1 ? { downText: ['"t":"ack"', 25] } : undefined));
  const room = await open(proxy.host, "sleepy");
  const dropped = next(room, "close", "the cut");
  proxy.hold();
  const expected = texts("a", 60);
  const sends = expected.map((text) => room.send(text));
  assert.equal((await dropped).code, 1006);
  // While the client waits at the proxy, the object is evicted (its SQLite file closed).
  const evicted = await fetch(`http://${hub.host}/_roost/objects/room/sleepy/hibernate`, { method: "POST" });
  assert.equal(evicted.status, 200, await evicted.text());
  const reopened = next(room, "open", "the reconnect");
  proxy.release();
  await reopened;
  await within(Promise.all(sends), "every ack", 2);
  assert.deepEqual(await within(room.call("seen"), "seen()"), expected);
});

test("a hub killed mid-call: retryable ConnectionLost; after the restart, no message lost or doubled", async () => {
  const dataDir = tempDir(cleanup);
  let hub = await HubProcess.start(cleanup, dataDir);
  const port = hub.port;
  const room = await open(hub.host, "restart", { maxReconnectionDelay: 100 });
  const blocker = await open(hub.host, "blocker");

  const before = texts("before", 30);
  await within(Promise.all(before.map((text) => room.send(text))), "acks before the kill");
  const during = texts("during", 300);
  const sends = during.map((text) => room.send(text));
  await within(sends[0] as Promise<void>, "the first ack of the burst");
  const blocked = handled(blocker.call("block"));
  await hub.waitForLine(/^roost-test: blocking in blocker$/);
  const lost = next(room, "close", "the socket drop");
  await hub.kill("SIGKILL");

  const error = await rejection(blocked, "the call in flight");
  assert.ok(error instanceof ConnectionLost);
  assert.deepEqual([error.code, error.retryable, error.closeCode, error.remote], ["connection_lost", true, 1006, false]);
  const closed = await lost;
  assert.deepEqual([closed.code, closed.willReconnect], [1006, true]);
  assert.notEqual(room.state, "closed");

  const whileDown = texts("while-down", 10);
  const later = whileDown.map((text) => room.send(text));
  const reopened = next(room, "open", "the reconnect");
  hub = await HubProcess.start(cleanup, dataDir, port);
  assert.equal((await reopened).reconnected, true);
  await within(Promise.all([...sends, ...later]), "every message acknowledged after the restart", 2);
  assert.deepEqual(await within(room.call("seen"), "seen()"), [...before, ...during, ...whileDown]);
});

test("a hub stopping (SIGTERM): a call that never returns ends retryably at the drain deadline, 1001, back after the restart", async () => {
  const dataDir = tempDir(cleanup);
  const quick = ["--shutdown-timeout", "0.5"]; // the drain waits this long for the call
  let hub = await HubProcess.start(cleanup, dataDir, 0, "app.py", quick);
  const port = hub.port;
  const room = await open(hub.host, "stopping", { maxReconnectionDelay: 100 });
  await within(room.send("one"), "first ack");
  const blocked = handled(room.call("block"));
  await hub.waitForLine(/^roost-test: blocking in stopping$/);
  const closed = next(room, "close", "the hub's close");
  await hub.kill("SIGTERM");
  const stopped = await rejection(blocked, "the call in flight");
  // The drain gives events in flight until the deadline; this one never returns, so it is
  // cancelled (its writes rolled back) and answered hub_stopping, or lost with the socket:
  // retryable either way (SPEC §6.4, §7.2).
  assert.ok(stopped instanceof HubStopping || stopped instanceof ConnectionLost, String(stopped));
  assert.equal(stopped.retryable, true);
  const event = await closed;
  assert.deepEqual([event.code, event.willReconnect], [1001, true]);
  const reopened = next(room, "open", "the reconnect");
  hub = await HubProcess.start(cleanup, dataDir, port);
  await reopened;
  await within(room.send("two"), "ack after the restart");
  assert.deepEqual(await within(room.call("seen"), "seen()"), ["one", "two"]);
});

test("a frame over the hub's limit: message_too_big, closed with 1009, not reconnected", async () => {
  const hub = await startHub();
  const room = await open(hub.host, "big", { maxMessageSize: 4 * 1024 * 1024 });
  const closed = next(room, "close", "the close");
  const error = await rejection(room.send("x".repeat(2 * 1024 * 1024)), "the big message");
  // SPEC §7.2 has an error frame before the 1009; the hub's WebSocket layer closes with
  // 1009 on its own, and the SDK names the close code's error the same way.
  assert.deepEqual([error.code, error.retryable, error.closeCode], ["message_too_big", false, 1009]);
  assert.deepEqual([(await closed).code, room.state], [1009, "closed"]);
  assert.equal(room.error?.code, "message_too_big");

  const small = await open(hub.host, "big");
  const local = (() => {
    try {
      void small.send("x".repeat(2 * 1024 * 1024));
    } catch (thrown) {
      return thrown;
    }
    return null;
  })();
  assert.ok(local instanceof RoostError && local.code === "message_too_big" && !local.remote, "refused before sending");
  assert.equal(small.state, "open");
});

test("bad frames from a raw client get bad_frame / session_required errors the SDK decodes", async () => {
  const hub = await startHub();
  const ws = new WebSocket(`ws://${hub.host}/objects/room/raw`, ["roost.v1"]);
  cleanup.add(() => ws.terminate());
  const frames: string[] = [];
  const waiters: (() => void)[] = [];
  ws.on("message", (data, isBinary) => {
    if (!isBinary) frames.push(data.toString());
    waiters.splice(0).forEach((wake) => wake());
  });
  await within(new Promise((resolve) => ws.once("open", resolve)), "raw open");
  assert.equal(ws.protocol, "roost.v1");
  const answer = async (text: string) => {
    const count = frames.length;
    ws.send(text);
    while (frames.length === count) await within(new Promise<void>((resolve) => waiters.push(resolve)), `answer to ${text}`);
    return decodeHub(frames[count] as string);
  };
  // id null (SPEC §3.3): a client keeps such a message and resends it after its hello.
  assert.deepEqual(await answer('{"t":"msg","id":1,"data":"x"}'), {
    t: "error",
    id: null,
    code: "session_required",
    message: "session required",
    retryable: false,
  });
  for (const bad of ["nonsense", "[]", '{"t":"sub"}', '{"t":"call","id":-1,"method":"m"}']) {
    const frame = await answer(bad);
    assert.ok(frame.t === "error" && frame.code === "bad_frame" && frame.id === null && !frame.retryable, bad);
  }
  assert.equal((await answer('{"t":"hello","session":"raw-1"}')).t, "welcome");
  const second = await answer('{"t":"hello","session":"raw-1"}');
  assert.ok(second.t === "error" && second.code === "session_required");
  assert.deepEqual(await answer('{"t":"ping"}'), { t: "pong" });
});

test("an unknown binding: the upgrade is refused (HTTP 404) and connect() rejects at once", async () => {
  const hub = await startHub();
  const error = await rejection(connect({ host: hub.host, party: "nothing-here", room: "x", WebSocket, ...FAST }), "connect");
  assert.ok(error instanceof HandshakeRejected);
  assert.deepEqual([error.code, error.status, error.retryable], ["handshake_rejected", 404, false]);
});

test("a connection waits for a hub that is not up yet (retrying), then works", async () => {
  const dataDir = tempDir(cleanup);
  const first = await HubProcess.start(cleanup, dataDir);
  const port = first.port;
  await first.kill("SIGTERM");
  const room = new Connection({ host: `127.0.0.1:${port}`, party: "room", room: "late", WebSocket, ...FAST });
  cleanup.add(() => room.close());
  const states: string[] = [];
  room.on("state", (event) => states.push(event.state));
  const refused = next(room, "close", "the refused attempt");
  assert.equal((await refused).code, 1006);
  const hub = await HubProcess.start(cleanup, dataDir, port);
  await within(room.ready, "the welcome once the hub is up", 2);
  assert.deepEqual([states[0], states.at(-1)], ["reconnecting", "open"]);
  await within(room.send("hello"), "ack");
  assert.deepEqual(await within(room.call("seen"), "seen()"), ["hello"]);
  assert.equal(hub.port, port);
});

