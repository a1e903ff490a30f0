/** The pure parts: reconnect delays, the outbox, URLs, the close-code rule. */

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  Backoff,
  BufferFull,
  CLOSE_CODES,
  CODES,
  ConnectionClosed,
  ERRORS,
  MessageTooBig,
  HandshakeRejected,
  InvalidArguments,
  ObjectError,
  Outbox,
  Overloaded,
  errorForClose,
  fromFrame,
  utf8Length,
  RoostError,
  kebab,
  objectUrl,
  randomSession,
  SESSION_PATTERN,
  shouldReconnect,
  withQuery,
} from "../src/index.js";

describe("Backoff", () => {
  test("grows by the factor from the smallest delay, up to the largest", () => {
    const backoff = new Backoff(
      { minReconnectionDelay: 100, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 2, reconnectionDelayJitter: 0 },
      () => 0.5,
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => backoff.delay(n)),
      [100, 200, 400, 800, 1000, 1000, 1000],
    );
    assert.equal(backoff.base(10_000), 1000, "a huge retry number does not overflow");
    assert.throws(() => backoff.base(0), RangeError);
  });

  test("jitter takes up to its fraction off, never adds", () => {
    const random = [0, 0.999999, 0.5];
    const backoff = new Backoff(
      { minReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayJitter: 0.5 },
      () => random.shift() ?? 0,
    );
    assert.equal(backoff.delay(1), 1000);
    assert.ok(Math.abs(backoff.delay(1) - 500) < 0.01);
    assert.equal(backoff.delay(1), 750);
  });

  test("defaults: the Python SDK's (0.5 s doubling to 10 s, jitter 0.5)", () => {
    const backoff = new Backoff({}, () => 0);
    assert.deepEqual([backoff.min, backoff.grow, backoff.max, backoff.jitter], [500, 2, 10_000, 0.5]);
    assert.deepEqual([1, 2, 3, 6].map((n) => backoff.base(n)), [500, 1000, 2000, 10_000]);
  });

  test("refuses nonsense options", () => {
    assert.throws(() => new Backoff({ minReconnectionDelay: -1 }), RangeError);
    assert.throws(() => new Backoff({ minReconnectionDelay: 5000, maxReconnectionDelay: 10 }), RangeError);
    assert.throws(() => new Backoff({ reconnectionDelayGrowFactor: 0.5 }), RangeError);
    assert.throws(() => new Backoff({ reconnectionDelayJitter: 2 }), RangeError);
  });
});

describe("Outbox", () => {
  test("numbers exactly-once entries from 1 and keeps them until settled", () => {
    const outbox = new Outbox<string>();
    const a = outbox.add(true, (id) => `a${id}`);
    const b = outbox.add(false, () => "b");
    const c = outbox.add(true, (id) => `c${id}`);
    assert.deepEqual([a.id, b.id, c.id], [1, null, 2]);
    assert.deepEqual([a.payload, c.payload], ["a1", "c2"]);
    assert.equal(outbox.oldestId, 1);
    const written: string[] = [];
    outbox.replay((entry) => written.push(entry.payload) > 0);
    assert.deepEqual(written, ["a1", "b", "c2"]);
    // The at-most-once entry is gone once written; the others wait for their ack.
    assert.equal(outbox.size, 2);
    written.length = 0;
    outbox.replay((entry) => written.push(entry.payload) > 0);
    assert.deepEqual(written, ["a1", "c2"]);
    assert.equal(outbox.settle(1), a);
    assert.equal(outbox.settle(1), undefined, "a second ack of a resent message is ignored");
    assert.equal(outbox.oldestId, 2);
    assert.equal(outbox.settle(2), c);
    assert.equal(outbox.oldestId, Number.POSITIVE_INFINITY);
    assert.equal(outbox.size, 0);
    assert.equal(outbox.add(true, String).id, 3, "ids go on counting within the session");
  });

  test("replay stops where the socket went away and keeps the rest", () => {
    const outbox = new Outbox<string>();
    for (const name of ["x", "y", "z"]) outbox.add(false, () => name);
    const written: string[] = [];
    outbox.replay((entry) => (entry.payload === "y" ? false : written.push(entry.payload) > 0));
    assert.deepEqual(written, ["x"]);
    const rest: string[] = [];
    outbox.replay((entry) => rest.push(entry.payload) > 0);
    assert.deepEqual(rest, ["y", "z"]);
  });

  test("is bounded: one more than the limit is refused with BufferFull, nothing added", () => {
    const outbox = new Outbox<number>(2);
    outbox.add(true, () => 1);
    outbox.add(false, () => 2);
    assert.throws(
      () => outbox.add(true, () => 3),
      (error: unknown) =>
        error instanceof BufferFull &&
        error.code === "buffer_full" &&
        error.retryable &&
        error.message === "too many messages waiting for the hub: 2, expected at most 2 (maxEnqueuedMessages)",
    );
    assert.equal(outbox.nextId, 2, "a refused message uses no id");
    outbox.settle(1);
    assert.equal(outbox.add(true, () => 3).id, 2);
  });

  test("remove and clear", () => {
    const outbox = new Outbox<string>();
    const a = outbox.add(true, () => "a");
    const b = outbox.add(false, () => "b");
    assert.ok(outbox.remove(b));
    assert.ok(!outbox.remove(b));
    assert.deepEqual(outbox.clear(), [a]);
    assert.equal(outbox.size, 0);
    assert.equal(outbox.unacknowledged, 0);
  });
});

describe("URLs", () => {
  test("host + party + room, the partysocket way, on /objects/", () => {
    assert.equal(objectUrl({ host: "127.0.0.1:8787", party: "chat-room", room: "lobby" }), "ws://127.0.0.1:8787/objects/chat-room/lobby");
    assert.equal(objectUrl({ host: "localhost:1999", binding: "CHAT_ROOM", name: "a/b c?" }), "ws://localhost:1999/objects/chat-room/a%2Fb%20c%3F");
    assert.equal(objectUrl({ host: "example.com", party: "x", room: "é" }), "wss://example.com/objects/x/%C3%A9");
    assert.equal(objectUrl({ host: "https://example.com/", room: "r" }), "wss://example.com/objects/main/r");
    assert.equal(objectUrl({ host: "http://example.com", room: "r", prefix: "parties", path: "p/q" }), "ws://example.com/parties/main/r/p/q");
    assert.equal(objectUrl({ host: "10.0.0.2:80", room: "r", protocol: "wss" }), "wss://10.0.0.2:80/objects/main/r");
    assert.equal(objectUrl({ host: "172.20.0.2", room: "r" }), "ws://172.20.0.2/objects/main/r");
    assert.equal(objectUrl({ host: "172.40.0.2", room: "r" }), "wss://172.40.0.2/objects/main/r");
  });

  test("a full url, http(s) turned into ws(s)", () => {
    assert.equal(objectUrl({ url: "https://h/objects/room/x?a=1" }), "wss://h/objects/room/x?a=1");
    assert.equal(objectUrl({ url: "ws://h:1/objects/room/x" }), "ws://h:1/objects/room/x");
    assert.throws(() => objectUrl({ url: "ftp://h/x" }), TypeError);
  });

  test("query parameters: added, null and undefined left out", () => {
    assert.equal(withQuery("ws://h/o/b/n?a=1", { b: "x y", c: null, d: undefined }), "ws://h/o/b/n?a=1&b=x+y");
  });

  test("refusals", () => {
    assert.throws(() => objectUrl({ room: "r" }), /either url or host/);
    assert.throws(() => objectUrl({ host: "h" }), /name/);
    assert.throws(() => objectUrl({ host: "h", room: "" }), /name/);
    assert.throws(() => objectUrl({ host: "h", room: "r", path: "/x" }), /slash/);
    assert.throws(() => kebab("chat room"), TypeError);
    assert.throws(() => kebab("Chat-"), TypeError);
    assert.equal(kebab("ROOM_2"), "room-2");
  });
});

test("session ids: 128 random bits, URL-safe", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const session = randomSession();
    assert.match(session, SESSION_PATTERN);
    assert.equal(session.length, 22);
    seen.add(session);
  }
  assert.equal(seen.size, 1000);
});

test("close codes that reconnect (SPEC §7.3)", () => {
  for (const code of [1001, 1006, 1008, 1011, 1012, 1013]) {
    assert.ok(shouldReconnect(code), String(code));
    assert.ok(!shouldReconnect(code, true), `${code} after close()`);
  }
  for (const code of [1000, 1002, 1003, 1005, 1007, 1009, 1010, 3000, 4000, 4999]) assert.ok(!shouldReconnect(code), String(code));
  assert.deepEqual(
    Object.entries(CLOSE_CODES).filter(([, row]) => row.reconnect).map(([code]) => Number(code)),
    [1001, 1006, 1008, 1011, 1012, 1013],
  );
});

test("the error that reports a close for good", () => {
  assert.equal(errorForClose(1000, "", null), null, "the object closed it normally");
  const tooBig = errorForClose(1009, "too big", null);
  assert.ok(tooBig instanceof MessageTooBig);
  assert.deepEqual([tooBig.code, tooBig.closeCode, tooBig.retryable, tooBig.remote], ["message_too_big", 1009, false, false]);
  const announced = new MessageTooBig("from the hub", { remote: true });
  assert.equal(errorForClose(1009, "", announced), announced);
  const byObject = errorForClose(4001, "kicked", new ObjectError("unrelated"));
  assert.ok(byObject instanceof ConnectionClosed);
  assert.deepEqual([byObject.code, byObject.closeCode, byObject.reason], ["connection_closed", 4001, "kicked"]);
  assert.equal(byObject.message, 'the hub closed the connection with 4001 (closed by the object): "kicked"');
  assert.equal(errorForClose(1002, "", null)?.message, "the hub closed the connection with 1002 (protocol error)");
});

test("error frames become the class of their code, keeping the hub's flag", () => {
  const known = fromFrame({ t: "error", id: 3, code: "invalid_arguments", message: "m", retryable: false });
  assert.ok(known instanceof InvalidArguments);
  assert.deepEqual([known.name, known.code, known.id, known.remote, known.retryable], ["InvalidArguments", "invalid_arguments", 3, true, false]);
  const flagged = fromFrame({ t: "error", id: null, code: "overloaded", message: "m", retryable: true });
  assert.ok(flagged instanceof Overloaded && flagged.retryable, "the hub's retryable wins over the table");
  const unknown = fromFrame({ t: "error", id: 1, code: "brand_new", message: "m", retryable: true });
  assert.deepEqual([unknown.constructor, unknown.code, unknown.retryable], [RoostError, "brand_new", true]);
  for (const [code, ErrorClass] of Object.entries(CODES)) {
    assert.equal(new ErrorClass("m").code, code);
    assert.equal(ERRORS[code as keyof typeof ERRORS].clientOnly, code === "connection_lost");
  }
  for (const status of [408, 429, 500, 503]) assert.ok(new HandshakeRejected("m", status).retryable, String(status));
  for (const status of [null, 400, 403, 404]) assert.ok(!new HandshakeRejected("m", status).retryable, String(status));
});

test("RoostError takes retryable and the close code from the table unless told", () => {
  const stopping = new RoostError("hub_stopping", "the hub is stopping");
  assert.deepEqual([stopping.retryable, stopping.closeCode, stopping.remote, stopping.id], [true, null, false, null]);
  const tooBig = new RoostError("message_too_big", "too big");
  assert.deepEqual([tooBig.retryable, tooBig.closeCode], [false, 1009]);
  const remote = new RoostError("brand_new", "from a newer hub", { retryable: true, remote: true, id: 4 });
  assert.deepEqual([remote.code, remote.retryable, remote.closeCode, remote.remote, remote.id], ["brand_new", true, null, true, 4]);
  assert.equal(remote.name, "RoostError");
  assert.ok(remote instanceof Error);
});

test("utf8Length counts what TextEncoder writes", () => {
  const encoder = new TextEncoder();
  for (const text of ["", "ascii", "é", "€", "😀", "a😀é€\u0000", "\u07ff\u0800\uffff", "x".repeat(1000) + "中"]) {
    assert.equal(utf8Length(text), encoder.encode(text).length, JSON.stringify(text));
  }
});
