/**
 * `setAuth` against a real hub (`roost serve test/fixtures/app.py`, its `Badge` object):
 * the `auth` frame runs the object's `websocket_auth(ws, token)` (protocol/SPEC.md
 * §6.5-6.8). A socket's identity is its attachment, which `whoami` reads back: the URL's
 * token first, then the last token `websocket_auth` accepted.
 */

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import WebSocket from "ws";

import { type ConnectOptions, type Connection, RoostError, Unauthorized, connect } from "../src/index.js";
import { Cleanup, HubProcess, TIMEOUT, tempDir, within } from "./harness.js";

let cleanup: Cleanup;

beforeEach(() => {
  cleanup = new Cleanup();
});

afterEach(async () => {
  await cleanup.run();
});

async function open(host: string, token: NonNullable<ConnectOptions["token"]>): Promise<Connection> {
  const options = { host, party: "badge", room: "b", token, WebSocket, minReconnectionDelay: 10, maxReconnectionDelay: 100, connectionTimeout: TIMEOUT };
  const connection = await within(connect(options), "connect to the badge");
  cleanup.add(() => connection.close());
  return connection;
}

/** What the object holds for this socket (its attachment). */
async function whoami(connection: Connection): Promise<unknown> {
  const answer = new Promise<unknown>((resolve) =>
    connection.addEventListener("message", (event) => resolve(JSON.parse(String(event.data))), { once: true }),
  );
  await within(connection.send("whoami"), "the ack of whoami");
  return within(answer, "the answer to whoami");
}

/** Force a new socket (`reconnect()`) and wait until it is open. */
async function reconnected(connection: Connection): Promise<void> {
  const opened = new Promise<void>((resolve) => connection.addEventListener("open", () => resolve(), { once: true }));
  connection.reconnect();
  await within(opened, "the new socket to open");
}

/** The `token` query item of the connection's current URL. */
function urlToken(connection: Connection): string | null {
  return new URL(connection.url).searchParams.get("token");
}

test("setAuth hands the object a new token: its result comes back and later messages see the new identity", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const connection = await open(hub.host, "first");
  assert.deepEqual(await whoami(connection), { token: "first", via: "url" });
  const socket = connection.socketId;

  assert.deepEqual(await within(connection.setAuth("second"), "setAuth"), { token: "second" });
  assert.deepEqual(await whoami(connection), { token: "second", via: "auth" });
  assert.equal(connection.socketId, socket, "the same socket: no reconnect");
});

test("a refused token rejects with Unauthorized and the socket stays open with what it had", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const connection = await open(hub.host, "good");
  const socket = connection.socketId;
  let error: unknown;
  try {
    await within(connection.setAuth("bad-token"), "setAuth of a bad token");
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof Unauthorized, `expected Unauthorized, got ${String(error)}`);
  assert.ok(error instanceof RoostError);
  assert.equal(error.code, "unauthorized");
  assert.equal(error.retryable, false);
  assert.match(error.message, /token 'bad-token' refused/);

  assert.equal(connection.state, "open");
  assert.equal(connection.socketId, socket);
  assert.deepEqual(await whoami(connection), { token: "good", via: "url" });
  // The refused token did not replace the one later sockets open with.
  await reconnected(connection);
  assert.equal(urlToken(connection), "good");
  assert.deepEqual(await whoami(connection), { token: "good", via: "url" });
});

test("setAuth() without a token asks the token function for a fresh one", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const given: string[] = [];
  const token = async (): Promise<string> => {
    given.push(`fresh-${given.length}`);
    return given.at(-1) as string;
  };
  const connection = await open(hub.host, token);
  assert.deepEqual(await whoami(connection), { token: "fresh-0", via: "url" });
  assert.deepEqual(await within(connection.setAuth(), "setAuth()"), { token: "fresh-1" });
  assert.deepEqual(await whoami(connection), { token: "fresh-1", via: "auth" });
  assert.deepEqual(given, ["fresh-0", "fresh-1"]);
});

test("after a forced reconnect the URL carries the accepted token", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const connection = await open(hub.host, "old");
  assert.equal(urlToken(connection), "old");
  await within(connection.setAuth("new"), "setAuth");
  const before = connection.socketId;

  await reconnected(connection);
  assert.notEqual(connection.socketId, before, "a new socket");
  assert.equal(urlToken(connection), "new");
  assert.deepEqual(await whoami(connection), { token: "new", via: "url" });
});
