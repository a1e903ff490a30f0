/**
 * Change feeds and presence in Node against a real hub (`roost serve
 * test/fixtures/app.py`): snapshot then live with no gap, resume after a cut connection
 * and after a hub killed with SIGKILL (no duplicate, no gap), reset then a fresh
 * snapshot, the hub's refusals as typed errors, presence across connections.
 */

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import WebSocket from "ws";

import {
  BadSubscription,
  type Change,
  type ConnectOptions,
  type Connection,
  type ConnectionEventMap,
  Forbidden,
  NoSuchFeed,
  type Presence,
  type PresenceEventMap,
  RoostError,
  type Subscription,
  TooManySubscriptions,
  connect,
} from "../src/index.js";
import { Cleanup, HubProcess, Proxy, TIMEOUT, tempDir, within } from "./harness.js";

let cleanup: Cleanup;

beforeEach(() => {
  cleanup = new Cleanup();
});

afterEach(async () => {
  await cleanup.run();
});

const FAST: Partial<ConnectOptions> = {
  minReconnectionDelay: 10,
  maxReconnectionDelay: 100,
  reconnectionDelayGrowFactor: 2,
  connectionTimeout: TIMEOUT,
};

interface Todo {
  id: number;
  title: string;
  done: number;
}

async function open(host: string, name: string, options: Partial<ConnectOptions> = {}): Promise<Connection> {
  const connection = await within(
    connect({ host, party: "todo-list", room: name, WebSocket, ...FAST, ...options }),
    `connect to ${name}`,
  );
  cleanup.add(() => connection.close());
  return connection;
}

function next<K extends keyof ConnectionEventMap>(connection: Connection, type: K, what: string = type): Promise<ConnectionEventMap[K]> {
  return within(
    new Promise<ConnectionEventMap[K]>((resolve) => connection.addEventListener(type, resolve, { once: true })),
    what,
  );
}

/** Everything a subscription delivers, and the table it builds from it. */
class Follower {
  readonly changes: Change[] = [];
  readonly rows = new Map<number, Record<string, unknown>>();
  private readonly waiters = new Set<() => void>();

  constructor(readonly sub: Subscription) {
    sub.on("change", (event) => {
      const change = event.change;
      this.changes.push(change);
      const row = change.row;
      if (change.op === "reset") this.rows.clear();
      else if (change.op === "delete") this.rows.delete(row?.id as number);
      else this.rows.set(row?.id as number, row as Record<string, unknown>);
      for (const wake of [...this.waiters]) wake();
    });
  }

  /** Wait until `done()` holds; checked after every change. */
  async until(done: () => boolean, what: string, factor = 1): Promise<void> {
    if (done()) return;
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (done()) {
            this.waiters.delete(check);
            resolve();
          }
        };
        this.waiters.add(check);
      }),
      what,
      factor,
    );
  }

  /** Wait until the subscription delivered a change with a seq at least `seq`. */
  untilSeq(seq: number, factor = 1): Promise<void> {
    return this.until(() => (this.sub.seq ?? -1) >= seq, `seq ${seq} (at ${String(this.sub.seq)})`, factor);
  }

  /** The table it built, in id order. */
  table(): Record<string, unknown>[] {
    return [...this.rows.values()].sort((a, b) => (a.id as number) - (b.id as number));
  }

  /** SPEC §9.9: after the snapshot, every change's seq above the one before (none twice). */
  assertInOrder(): void {
    let last = -1;
    for (const change of this.changes) {
      if (change.op === "snapshot" || change.op === "reset") {
        assert.ok(change.seq >= 0);
        last = Math.max(last, change.seq);
        continue;
      }
      assert.ok(change.seq > last, `change ${change.seq} ${change.op} came after ${last}`);
      last = change.seq;
    }
  }

  count(op: Change["op"]): number {
    return this.changes.filter((change) => change.op === op).length;
  }

  /** How many snapshots were delivered: runs of snapshot rows (an empty one shows as none). */
  snapshots(): number {
    return this.changes.filter((change, i) => change.op === "snapshot" && this.changes[i - 1]?.op !== "snapshot").length;
  }
}

async function table(connection: Connection): Promise<Todo[]> {
  return within(connection.call<Todo[]>("todos"), "todos()");
}

async function seq(connection: Connection): Promise<number> {
  return within(connection.call<number>("seq"), "seq()");
}

/** Writes of all kinds, one call each: inserts, updates that enter and leave `done`, deletes. */
async function churn(writer: Connection, prefix: string, n: number, onWrite: (i: number) => void = () => undefined): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const id = await writer.call<number>("add", [`${prefix}${i}`]);
    if (i % 3 === 0) await writer.call("set_done", [id - 1, true]);
    if (i % 4 === 0) await writer.call("rename", [id - 2, `${prefix}${i - 2}'`]);
    if (i % 5 === 0) await writer.call("remove", [id - 3]);
    if (i % 7 === 0) await writer.call("set_done", [id - 1, false]);
    onWrite(i);
  }
}

test("snapshot then live, with a writer running through it: no change missed or repeated", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const writer = await open(hub.host, "list");
  const reader = await open(hub.host, "list");
  await within(writer.call("add_many", [["a", "b", "c"]]), "seed");
  let subscribed!: () => void;
  const halfway = new Promise<void>((resolve) => (subscribed = resolve));
  const writing = churn(writer, "w", 40, (i) => i === 10 && subscribed());
  await within(halfway, "ten writes");
  const all = new Follower(reader.subscribe("todos", { snapshot: true }));
  const open_ = new Follower(reader.subscribe("todos", { snapshot: true, where: { done: false }, columns: ["title"] }));
  const iterated: Change[] = [];
  const loop = (async () => {
    for await (const change of all.sub) iterated.push(change);
  })();
  await within(writing, "the writes", 3);
  // A last write every filter sees, so both subscriptions reach the newest seq by a change.
  await within(writer.call("add", ["last"]), "the last write");
  const last = await seq(writer);
  await all.untilSeq(last);
  await open_.untilSeq(last);

  const rows = await table(writer);
  assert.deepEqual(all.table(), rows);
  assert.deepEqual(
    open_.table(),
    rows.filter((row) => row.done === 0).map(({ id, title }) => ({ id, title })),
    "a filtered subscriber holds exactly the matching rows (SPEC §9.7)",
  );
  all.assertInOrder();
  open_.assertInOrder();
  assert.ok(all.count("snapshot") >= 3, "the snapshot came first");
  assert.equal(all.changes[0]?.op, "snapshot");
  assert.ok(all.count("insert") > 0 && all.count("update") > 0 && all.count("delete") > 0);
  assert.equal(all.sub.state, "live");
  all.sub.unsubscribe();
  await within(loop, "the iteration's end");
  assert.deepEqual(iterated, all.changes, "the iterator yields what the events told");
});

test("resume after a cut connection: since the last seq, the missed changes once, then live", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const proxy = await Proxy.start(cleanup, () => hub.port);
  const writer = await open(hub.host, "cut");
  await within(writer.call("add_many", [["a", "b"]]), "seed");
  const reader = await open(proxy.host, "cut");
  const follower = new Follower(reader.subscribe("todos", { snapshot: true }));
  await within(churn(writer, "x", 10), "writes before the cut");
  await follower.untilSeq(await seq(writer));

  const dropped = next(reader, "close", "the cut");
  proxy.hold();
  proxy.cutAll();
  assert.equal((await dropped).code, 1006);
  await within(churn(writer, "y", 10), "writes while the reader is away");
  const reopened = next(reader, "open", "the reconnect");
  proxy.release();
  assert.equal((await reopened).reconnected, true);
  await within(churn(writer, "z", 10), "writes after the reconnect");
  await follower.untilSeq(await seq(writer));

  assert.deepEqual(follower.table(), await table(writer));
  follower.assertInOrder();
  assert.equal(follower.snapshots(), 1, "resumed with since: no second snapshot");
  assert.equal(follower.count("reset"), 0);
  assert.equal(proxy.connections, 2);
});

test("resume after the hub is killed with SIGKILL and restarted: no duplicate, no gap", async () => {
  const dataDir = tempDir(cleanup);
  let hub = await HubProcess.start(cleanup, dataDir);
  const port = hub.port;
  const writer = await open(hub.host, "restart");
  const reader = await open(hub.host, "restart");
  await within(writer.call("add", ["seed"]), "seed");
  const follower = new Follower(reader.subscribe("todos", { snapshot: true }));
  const live = new Follower(reader.subscribe("todos", {}));
  // Exactly-once writes: each is handled once across the kill (SPEC §5).
  const before = Array.from({ length: 30 }, (_, i) => writer.send(`add:before${i + 1}`));
  await within(Promise.all(before), "writes before the kill");
  const during = Array.from({ length: 100 }, (_, i) => writer.send(`add:during${i + 1}`));
  await within(during[9] as Promise<void>, "the first writes of the burst");
  const dropped = next(reader, "close", "the drop");
  await hub.kill("SIGKILL");
  assert.deepEqual([(await dropped).code, reader.state], [1006, "reconnecting"]);
  const reopened = next(reader, "open", "the reconnect");
  hub = await HubProcess.start(cleanup, dataDir, port);
  await reopened;
  await within(Promise.all(during), "every write acknowledged after the restart", 2);
  await within(writer.send("add:after"), "a write after the restart");
  const last = await seq(writer);
  await follower.untilSeq(last, 2);
  await live.untilSeq(last, 2);

  const rows = await table(writer);
  assert.equal(rows.length, 132, "each write once");
  assert.deepEqual(follower.table(), rows);
  follower.assertInOrder();
  live.assertInOrder();
  assert.equal(follower.count("snapshot") + follower.count("insert"), 132, "each row once: snapshot or insert");
  assert.equal(follower.snapshots(), 1, "resumed with since after the restart: no second snapshot");
  assert.equal(live.count("snapshot"), 0);
  // The live-only subscription counted from its subscribed seq: after the restart it
  // resumed since then, so it saw every insert after it started, once.
  assert.deepEqual(
    live.changes.map((change) => change.row?.title),
    rows.slice(rows.length - live.changes.length).map((row) => row.title),
  );
});

test("reset: a resume from before what the hub keeps gives a reset, then a fresh snapshot", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const proxy = await Proxy.start(cleanup, () => hub.port);
  const writer = await open(hub.host, "short", { party: "short-list" });
  await within(writer.call("add_many", [["a", "b"]]), "seed");
  const reader = await open(proxy.host, "short", { party: "short-list" });
  const follower = new Follower(reader.subscribe("todos", { snapshot: true }));
  await within(writer.call("add", ["c"]), "a live write");
  const seen = await seq(writer);
  await follower.untilSeq(seen);

  const dropped = next(reader, "close", "the cut");
  proxy.hold();
  proxy.cutAll();
  await dropped;
  await within(churn(writer, "x", 8), "more writes than the hub keeps (3)");
  proxy.release();
  await follower.until(() => follower.count("reset") === 1, "the reset");
  const reset = follower.changes.find((change) => change.op === "reset");
  assert.deepEqual(reset, { seq: seen, op: "reset", row: null }, "told with the seq it had");
  const last = await seq(writer);
  await follower.untilSeq(last);
  const afterReset = follower.changes.slice(follower.changes.indexOf(reset as Change) + 1);
  const rows = await table(writer);
  assert.deepEqual(
    afterReset.map((change) => [change.op, change.seq]),
    rows.map(() => ["snapshot", last]),
    "the whole table again, as a snapshot",
  );
  assert.deepEqual(follower.table(), rows);
  assert.equal(follower.sub.state, "live");

  // Asking directly from before what is kept: the same, at once.
  const direct = new Follower(reader.subscribe("todos", { since: 1 }));
  await direct.untilSeq(last);
  assert.deepEqual(direct.changes[0], { seq: 1, op: "reset", row: null });
  assert.deepEqual(direct.table(), rows);
});

test("the hub's refusals end a subscription with a typed error; the connection stays", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const conn = await open(hub.host, "errors");
  const ended = async (sub: Subscription, what: string): Promise<RoostError> => {
    try {
      for await (const change of sub) assert.fail(`${what}: delivered ${JSON.stringify(change)}`);
    } catch (error) {
      assert.ok(error instanceof RoostError, String(error));
      assert.equal(sub.error, error);
      assert.equal(sub.state, "closed");
      return error;
    }
    assert.fail(`${what}: ended without an error`);
  };
  const unknown = await within(ended(conn.subscribe("nope", { snapshot: true }), "unknown table"), "unknown table");
  assert.ok(unknown instanceof NoSuchFeed);
  assert.deepEqual([unknown.code, unknown.retryable, unknown.remote], ["no_such_feed", false, true]);
  const column = await within(ended(conn.subscribe("todos", { where: { nope: 1 } }), "unknown column"), "unknown column");
  assert.ok(column instanceof BadSubscription);
  const op = await within(ended(conn.subscribe("todos", { where: [["title", "regex" as never, "x"]] }), "unknown op"), "unknown op");
  assert.ok(op instanceof BadSubscription);
  const columns = await within(ended(conn.subscribe("todos", { columns: ["nope"] }), "unknown column"), "unknown column");
  assert.ok(columns instanceof BadSubscription);

  const guest = await open(hub.host, "errors", { query: { role: "guest" } });
  const refused = await within(ended(guest.subscribe("todos", { snapshot: true }), "a guest"), "a guest");
  assert.ok(refused instanceof Forbidden, "feed_allowed said no");
  assert.deepEqual([refused.code, refused.retryable, refused.remote], ["forbidden", false, true]);
  // feed_allowed raising: SPEC §9.6 lists no code for it; the hub answers object_error.
  const broken = await open(hub.host, "errors", { query: { role: "broken" } });
  const raised = await within(ended(broken.subscribe("todos"), "feed_allowed raising"), "feed_allowed raising");
  assert.deepEqual([raised.code, raised.retryable, raised.remote], ["object_error", false, true]);

  const room = await within(connect({ host: hub.host, party: "room", room: "errors", WebSocket, ...FAST }), "connect to a room");
  cleanup.add(() => room.close());
  const notFeed = await within(ended(room.subscribe("seen"), "a table that does not feed"), "not a feed");
  assert.ok(notFeed instanceof NoSuchFeed);

  const subs = Array.from({ length: 64 }, () => conn.subscribe("todos"));
  const extra = await within(ended(conn.subscribe("todos"), "the 65th"), "the 65th");
  assert.ok(extra instanceof TooManySubscriptions);
  for (const sub of subs) assert.notEqual(sub.state, "closed");
  assert.equal(conn.state, "open");
  assert.equal(await within(conn.call("add", ["still works"]), "a call"), 1);
});

/** The presence events of `presence`, as `type:name` (or `type:socket` without a name). */
function presenceLog(presence: Presence): string[] {
  const seen: string[] = [];
  for (const type of ["join", "update", "leave"] as const) {
    presence.on(type, (event: PresenceEventMap[typeof type]) => {
      const state = event.detail.state as { name?: string; typing?: boolean } | null;
      seen.push(`${type}:${state?.name ?? event.detail.socket}${state?.typing ? ":typing" : ""}`);
    });
  }
  presence.on("sync", (event) => seen.push(`sync:${event.members.size}`));
  return seen;
}

async function until(check: () => boolean, what: string, presence: Presence): Promise<void> {
  if (check()) return;
  await within(
    new Promise<void>((resolve) => {
      const wake = (): void => {
        if (!check()) return;
        for (const type of ["join", "update", "leave", "sync"] as const) presence.removeEventListener(type, wake);
        resolve();
      };
      for (const type of ["join", "update", "leave", "sync"] as const) presence.addEventListener(type, wake);
    }),
    what,
  );
}

test("presence: join, update and leave across two connections, and across a cut connection", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const proxy = await Proxy.start(cleanup, () => hub.port);
  const ada = await open(proxy.host, "lobby", { query: { name: "ada" } });
  const adaPresence = ada.presence;
  const adaSaw = presenceLog(adaPresence);
  await within(adaPresence.ready, "ada's first list");
  assert.deepEqual([...adaPresence.members], [[ada.socketId, { name: "ada" }]], "ada sees herself, by her socket id");

  const bob = await open(hub.host, "lobby", { query: { name: "bob" } });
  const bobSaw = presenceLog(bob.presence);
  await within(bob.presence.ready, "bob's first list");
  assert.deepEqual([...bob.presence.members.values()], [{ name: "ada" }, { name: "bob" }], "in join order");
  await until(() => adaSaw.includes("join:bob"), "ada sees bob join", adaPresence);

  await within(bob.send('presence:{"name":"bob","typing":true}'), "bob types");
  await until(() => adaSaw.includes("update:bob:typing"), "ada sees bob's update", adaPresence);
  assert.deepEqual(adaPresence.members.get(bob.socketId as number), { name: "bob", typing: true });

  // Ada's connection is cut: bob sees her leave at once (SPEC §10.1); when she is back,
  // her new list replaces the old one and her events tell the difference.
  const adaBefore = ada.socketId;
  const dropped = next(ada, "close", "ada's cut");
  proxy.hold();
  proxy.cutAll();
  await dropped;
  await until(() => bobSaw.includes("leave:ada"), "bob sees ada leave", bob.presence);
  assert.deepEqual([...bob.presence.members.values()], [{ name: "bob", typing: true }]);
  adaSaw.length = 0;
  proxy.release();
  await until(() => adaSaw.includes("sync:2"), "ada's list after the reconnect", adaPresence);
  assert.notEqual(ada.socketId, adaBefore);
  assert.deepEqual(adaSaw, [`leave:ada`, "join:ada", "sync:2"], "her old socket left, her new one joined; bob unchanged");
  assert.deepEqual([...adaPresence.members.keys()], [bob.socketId, ada.socketId]);
  await until(() => bobSaw.filter((entry) => entry === "join:ada").length === 2, "bob sees ada back", bob.presence);

  await bob.close();
  await until(() => adaSaw.includes("leave:bob:typing"), "ada sees bob leave (with the state he had)", adaPresence);
  assert.deepEqual([...adaPresence.members.keys()], [ada.socketId]);

  adaPresence.close();
  assert.ok(adaPresence.closed);
  assert.notEqual(ada.presence, adaPresence, "a new presence after close()");
  await within(ada.presence.ready, "a new list");
  assert.deepEqual([...ada.presence.members.keys()], [ada.socketId]);
});
