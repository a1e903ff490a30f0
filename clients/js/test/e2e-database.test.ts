/**
 * Database objects from Node against a real hub (`roost serve
 * test/fixtures/app.py --databases --admin-key K`): provisioning with the admin key, the
 * data verbs and the typed table client, tokens (read-only, of another database,
 * revoked), the hub's refusals as the SDK's classes, and a change feed that sees what
 * another client wrote.
 */

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import WebSocket from "ws";

import {
  type Change,
  type Credential,
  CODES,
  ConnectFailed,
  DatabaseExists,
  type Database,
  InvalidArguments,
  MigrationConflict,
  NoSuchDatabase,
  QueryError,
  ReadOnly,
  ResultTooLarge,
  RoostError,
  StatementNotAllowed,
  type Subscription,
  admin,
  database,
} from "../src/index.js";
import { Cleanup, HubProcess, failure, openDatabase, tempDir, within } from "./harness.js";

const ADMIN_KEY = "test-admin-key";

let cleanup: Cleanup;

beforeEach(() => {
  cleanup = new Cleanup();
});

afterEach(async () => {
  await cleanup.run();
});

/** A hub serving database objects, and its HTTP base URL. */
async function startHub(): Promise<string> {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup), 0, "app.py", ["--databases", "--admin-key", ADMIN_KEY]);
  return `http://${hub.host}`;
}

function open(url: string, name: string, token: Credential): Database {
  return openDatabase(cleanup, url, name, token);
}

/**
 * `unauthorized` has no class of its own on this branch (the `jsbundle` branch adds
 * `Unauthorized`): the code is what the SDK promises; the class is checked once it exists.
 */
function assertUnauthorized(error: RoostError): void {
  assert.equal(error.code, "unauthorized", error.message);
  assert.equal(error.retryable, false);
  const ErrorClass = CODES.unauthorized;
  if (ErrorClass !== undefined) assert.ok(error instanceof ErrorClass);
}

const USERS = "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL, team TEXT, age INTEGER)";

/** The row type the table client is typed with (tsc checks the uses below). */
interface User {
  id: string;
  email: string;
  team: string | null;
  age: number | null;
}

test("provisioning, migrations, SQL and the typed table client against a real hub", async () => {
  const url = await startHub();
  const hub = admin(url, ADMIN_KEY);
  const created = await hub.createDatabase("org acme/1");
  assert.equal(created.name, "org acme/1");
  assert.match(created.token, /^rdb_[0-9a-f]{16}_[A-Za-z0-9_-]+$/);
  assert.equal(created.token, `rdb_${created.tokenId}_${created.token.split("_").slice(2).join("_")}`);
  assert.equal(created.readOnly, false);
  assert.ok(await failure(hub.createDatabase("org acme/1")) instanceof DatabaseExists);

  const db = open(url, "org acme/1", created.token);
  assert.deepEqual(await db.health(), { status: "ok", name: "org acme/1" });
  assert.deepEqual(await db.migrate([["0001_users", USERS]]), { applied: ["0001_users"], skipped: [] });
  assert.deepEqual(await hub.migrate("org acme/1", { "0001_users": USERS, "0002_idx": "CREATE INDEX users_team ON users (team)" }), {
    applied: ["0002_idx"],
    skipped: ["0001_users"],
  });
  assert.ok(await failure(db.migrate([["0001_users", `${USERS} -- edited`]])) instanceof MigrationConflict);

  const users = db.table<User>("users");
  assert.equal(await users.insert({ id: "u1", email: "ann@acme.com", team: "a", age: 31 }), 1);
  await users.insert([
    { id: "u2", email: "bob@acme.com", team: "a", age: 25 },
    { id: "u3", email: "cy@else.org", team: "b", age: null },
    { id: "u4", email: "di@ACME.com", team: null, age: 47 },
  ]);
  const acme = users.where({ email: { like: "%@acme.com" } });
  assert.deepEqual((await acme.orderBy("id").all()).map((user) => user.id), ["u1", "u2", "u4"], "like is ASCII case-insensitive");
  assert.equal(await acme.count(), 3);
  assert.equal(await acme.limit(1).count(), 3, "count ignores the page");
  assert.deepEqual(await acme.orderBy("age", "desc").limit(2).offset(1).select("id", "age").all(), [
    { id: "u1", age: 31 },
    { id: "u2", age: 25 },
  ]);
  const ann: User | null = await users.where({ id: "u1" }).first();
  assert.deepEqual(ann, { id: "u1", email: "ann@acme.com", team: "a", age: 31 });
  assert.equal(await users.where({ id: "nobody" }).first(), null);
  assert.deepEqual((await users.where({ team: null }).all()).map((user) => user.id), ["u4"], "null is IS NULL");
  assert.deepEqual((await users.where({ id: ["u3", "u4"] }).orderBy("id").all()).map((user) => user.id), ["u3", "u4"]);
  const either = users.where({ or: [{ team: "b" }, { age: { gte: 40 } }] }).orderBy("id");
  assert.deepEqual((await either.all()).map((user) => user.id), ["u3", "u4"]);
  assert.equal(await users.where({ team: "a" }).update({ team: "alpha" }), 2);
  assert.equal(await users.where({ team: "alpha" }).count(), 2);
  assert.equal(await users.where({ id: "u4" }).delete(), 1);
  assert.equal(await users.count(), 3);
  // @ts-expect-error: `nope` is not a column of User
  assert.ok(await failure(users.where({ nope: 1 }).all()) instanceof InvalidArguments);
  // @ts-expect-error: age is a number
  users.where({ age: "old" });
  // @ts-expect-error: email is not a number
  void (() => users.insert({ id: "u9", email: 9 }));

  const selected = await db.query("SELECT id, age FROM users WHERE age > ? ORDER BY id", 20);
  assert.deepEqual([selected.columns, selected.rows, selected.rowsRead, selected.rowsWritten], [["id", "age"], [["u1", 31], ["u2", 25]], 2, 0]);
  assert.deepEqual(selected.objects(), [{ id: "u1", age: 31 }, { id: "u2", age: 25 }]);
  const inserted = await db.query("INSERT INTO users (id, email) VALUES (?, ?)", "u5", "eve@acme.com");
  assert.equal(inserted.rowsWritten, 1);
  assert.equal(typeof inserted.lastInsertRowid, "number");

  const results = await db.batch([["UPDATE users SET age = ? WHERE id = ?", 50, "u5"], ["SELECT age FROM users WHERE id = ?", ["u5"]]]);
  assert.deepEqual(results.map((result) => result.rows), [[], [[50]]]);
  const rolledBack = await failure(db.batch([["DELETE FROM users"], "SELECT * FROM no_such_table"]));
  assert.ok(rolledBack instanceof QueryError, rolledBack.message);
  assert.match(rolledBack.message, /^statement 1: /);
  assert.equal(await users.count(), 4, "a failing batch rolls back every statement");
  assert.ok(await failure(db.query("SELECT * FROM nope")) instanceof QueryError);
  assert.ok(await failure(db.query("SELECT * FROM _roost_db_tokens")) instanceof StatementNotAllowed);
  assert.ok(await failure(db.query("BEGIN")) instanceof StatementNotAllowed);

  await db.query("CREATE TABLE many (n INTEGER PRIMARY KEY)");
  await db.query("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 10001) INSERT INTO many SELECT n FROM c");
  assert.ok(await failure(db.table("many").all()) instanceof ResultTooLarge, "over the default 10,000 rows");
  assert.ok(await failure(db.query("SELECT n FROM many")) instanceof ResultTooLarge);
  assert.equal((await db.table("many").limit(10_000).all()).length, 10_000);

  const stats = await db.stats();
  assert.equal(stats.name, "org acme/1");
  assert.deepEqual(stats.tables, [{ name: "many", rows: 10_001 }, { name: "users", rows: 4 }]);
  assert.ok(stats.rowsWritten > 0 && stats.rowsRead > 0 && stats.feedSeq > 0 && stats.size > 0, JSON.stringify(stats));
  assert.equal(typeof stats.lastWrite, "number");

  const listed = await hub.listDatabases();
  assert.deepEqual(listed.map((item) => [item.name, item.tokens]), [["org acme/1", 1]]);
  const info = await hub.getDatabase("org acme/1");
  assert.deepEqual(info.tokens.map((token) => [token.tokenId, token.readOnly]), [[created.tokenId, false]]);

  // The same verbs over roost.v1 on the database's socket.
  assert.deepEqual(await db.connection().call("count", [], { table: "users", where: [["team", "eq", "alpha"]] }), { count: 2 });

  await hub.deleteDatabase("org acme/1");
  assert.ok(await failure(users.count()) instanceof NoSuchDatabase);
  assert.ok(await failure(hub.getDatabase("org acme/1")) instanceof NoSuchDatabase);
  assert.deepEqual(await hub.listDatabases(), []);
});

test("tokens: read-only cannot write, another database's token and a revoked one are unauthorized", async () => {
  const url = await startHub();
  const hub = admin(url, ADMIN_KEY);
  const a = await hub.createDatabase("a");
  const b = await hub.createDatabase("b");
  const writer = open(url, "a", a.token);
  await writer.migrate([["0001", USERS]]);
  await writer.table<User>("users").insert({ id: "u1", email: "ann@acme.com", team: "a", age: 31 });

  const viewer = await hub.createToken("a", { readOnly: true });
  assert.equal(viewer.readOnly, true);
  const reader = open(url, "a", viewer.token);
  assert.deepEqual(await reader.table<User>("users").select("id").all(), [{ id: "u1" }]);
  const writes: [string, () => Promise<unknown>][] = [
    ["query INSERT", () => reader.query("INSERT INTO users (id, email) VALUES ('u2', 'x')")],
    ["query WITH ... INSERT", () => reader.query("WITH x AS (SELECT 1) INSERT INTO users (id, email) SELECT 'u3', 'y' FROM x")],
    ["table insert", () => reader.table("users").insert({ id: "u4", email: "z" })],
    ["table update", () => reader.table("users").where({ id: "u1" }).update({ age: 1 })],
    ["table delete", () => reader.table("users").delete()],
    ["migrate", () => reader.migrate([["0002", "CREATE TABLE t (id INTEGER PRIMARY KEY)"]])],
  ];
  for (const [what, write] of writes) {
    const error = await failure(write());
    assert.ok(error instanceof ReadOnly, `${what}: ${error.code} ${error.message}`);
    assert.equal(error.retryable, false);
  }
  assert.equal(await writer.table("users").count(), 1, "nothing was written");

  assertUnauthorized(await failure(open(url, "b", a.token).query("SELECT 1")));
  assertUnauthorized(await failure(open(url, "a", b.token).table("users").count()));
  assertUnauthorized(await failure(open(url, "a", "rdb_0000000000000000_wrong").health()));
  assertUnauthorized(await failure(admin(url, "not the key").listDatabases()));
  assertUnauthorized(await failure(admin(url, a.token).createDatabase("c")));

  await hub.revokeToken("a", viewer.tokenId);
  assertUnauthorized(await failure(reader.table("users").count()));
  assert.equal((await failure(hub.revokeToken("a", viewer.tokenId))).code, "not_found");
  const rotated = await hub.createToken("a", { revokeOthers: true });
  assert.deepEqual(rotated.revoked, [a.tokenId]);
  assertUnauthorized(await failure(writer.query("SELECT 1")));
  assert.equal(await open(url, "a", rotated.token).table("users").count(), 1);
  assert.ok(await failure(open(url, "nope", a.token).health()) instanceof NoSuchDatabase);
});

/** The next `n` changes of `subscription`. */
async function take(iterator: AsyncIterator<Change>, n: number, what: string): Promise<[string, unknown][]> {
  const changes: [string, unknown][] = [];
  while (changes.length < n) {
    const next = await within(iterator.next(), what);
    assert.ok(!next.done, `${what}: the feed ended`);
    changes.push([next.value.op, next.value.row]);
  }
  return changes;
}

test("subscribe over roost.v1 sees what another client writes, filtered by where", async () => {
  const url = await startHub();
  const hub = admin(url, ADMIN_KEY);
  const created = await hub.createDatabase("feeds");
  const viewer = await hub.createToken("feeds", { readOnly: true });
  const writer = open(url, "feeds", created.token);
  await writer.migrate([["0001", USERS]]);
  await writer.table<User>("users").insert({ id: "u1", email: "ann@acme.com", team: "a", age: 31 });

  // A read-only token may subscribe: the feed is a read.
  const watcher = open(url, "feeds", async () => viewer.token);
  const subscription: Subscription = watcher.subscribe<User>("users", { where: { team: "a", age: { gte: 18 } }, columns: ["email"] });
  const changes = subscription[Symbol.asyncIterator]();
  assert.deepEqual(await take(changes, 1, "the snapshot"), [["snapshot", { id: "u1", email: "ann@acme.com" }]]);
  assert.equal(subscription.state, "live", "a snapshot is delivered once complete");

  const other = open(url, "feeds", created.token);
  await other.table<User>("users").insert([
    { id: "u2", email: "kid@acme.com", team: "a", age: 9 },
    { id: "u3", email: "bob@acme.com", team: "a", age: 40 },
    { id: "u4", email: "cy@else.org", team: "b", age: 40 },
  ]);
  await other.table<User>("users").where({ id: "u1" }).update({ email: "ann@acme.org" });
  await other.query("DELETE FROM users WHERE id = ?", "u3");
  assert.deepEqual(await take(changes, 3, "the live changes"), [
    ["insert", { id: "u3", email: "bob@acme.com" }],
    ["update", { id: "u1", email: "ann@acme.org" }],
    ["delete", { id: "u3", email: "bob@acme.com" }],
  ]);
  subscription.unsubscribe();

  // Revoking the watcher's token closes its socket with 4401, and it does not reconnect.
  const connection = watcher.connection();
  const closed = new Promise<number>((resolve) => connection.addEventListener("close", (event) => resolve(event.code)));
  await hub.revokeToken("feeds", viewer.tokenId);
  assert.equal(await within(closed, "the revoked socket to close"), 4401);
  assert.equal(connection.state, "closed");
  assert.equal(connection.error?.closeCode, 4401);
});

test("snapshot: false: every change made after the call arrives, none made before it", async () => {
  const url = await startHub();
  const created = await admin(url, ADMIN_KEY).createDatabase("from-now");
  const db = open(url, "from-now", created.token);
  await db.migrate([["0001", USERS]]);
  const users = db.table<User>("users");
  await users.insert({ id: "u0", email: "old@acme.com", team: "a", age: 30 });

  const subscription = db.subscribe<User>("users", { snapshot: false });
  // Written at once, with no await between the call and the first write: the writes race
  // the socket's opening, and the hub has them before it has the `sub`.
  const written = (async () => {
    await users.insert({ id: "u1", email: "new@acme.com", team: "a", age: 20 });
    await users.where({ id: "u0" }).update({ age: 31 });
    await db.query("DELETE FROM users WHERE id = ?", "u1");
  })();
  const changes = subscription[Symbol.asyncIterator]();
  assert.deepEqual(await take(changes, 3, "the changes made after subscribe"), [
    ["insert", { id: "u1", email: "new@acme.com", team: "a", age: 20 }],
    ["update", { id: "u0", email: "old@acme.com", team: "a", age: 31 }],
    ["delete", { id: "u1", email: "new@acme.com", team: "a", age: 20 }],
  ]);
  await written;
  assert.equal(subscription.state, "live");
  // From another client, once live: still there, and the seq goes on from the taken one.
  const before = subscription.seq ?? 0;
  await open(url, "from-now", created.token).table<User>("users").insert({ id: "u2", email: "x@acme.com", team: null, age: null });
  assert.deepEqual(await take(changes, 1, "a change from another client"), [["insert", { id: "u2", email: "x@acme.com", team: null, age: null }]]);
  assert.ok((subscription.seq ?? 0) > before);
});

test("snapshot: false unsubscribed before its seq came: no sub goes out", async () => {
  const url = await startHub();
  const created = await admin(url, ADMIN_KEY).createDatabase("gone");
  const written: string[] = [];
  const db = database(url, "gone", {
    token: created.token,
    socket: { WebSocket, debug: (...args: unknown[]) => void written.push(args.map(String).join(" ")) },
  });
  cleanup.add(() => db.close());
  await db.migrate([["0001", USERS]]);

  const early = db.subscribe<User>("users", { snapshot: false });
  early.unsubscribe(); // its stats() request is on its way: nothing has come back yet
  assert.deepEqual([early.state, early.error], ["closed", null]);
  const kept = db.subscribe<User>("users", { snapshot: false });
  // This insert waits for both seq reads (database.ts rule 4), so `early` had its seq
  // before the row exists; the row arriving on `kept` means its `sub` was handled.
  await db.table<User>("users").insert({ id: "u1", email: "ann@acme.com", team: "a", age: 31 });
  assert.deepEqual(await take(kept[Symbol.asyncIterator](), 1, "the change on the kept subscription"), [
    ["insert", { id: "u1", email: "ann@acme.com", team: "a", age: 31 }],
  ]);
  const sent = written.filter((line) => /^roost: -> (sub|unsub) /.test(line));
  assert.equal(sent.length, 1, JSON.stringify(written));
  assert.match(sent[0] ?? "", /^roost: -> sub /);
  assert.deepEqual(await early[Symbol.asyncIterator]().next(), { value: undefined, done: true });
});

test("snapshot: false when its stats() fails (no hub): the subscription ends with that error", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup), 0, "app.py", ["--databases", "--admin-key", ADMIN_KEY]);
  const url = `http://${hub.host}`;
  const created = await admin(url, ADMIN_KEY).createDatabase("down");
  await hub.kill();
  const db = open(url, "down", created.token);
  const subscription = db.subscribe<User>("users", { snapshot: false });
  const errors: RoostError[] = [];
  subscription.addEventListener("error", (event) => errors.push(event.error));
  const error = await failure(within(subscription[Symbol.asyncIterator]().next(), "the subscription to end"));
  assert.ok(error instanceof ConnectFailed, `${error.code}: ${error.message}`);
  assert.match(error.message, /^GET .*\/db\/down\/stats failed/);
  assert.deepEqual([subscription.state, subscription.error, errors], ["closed", error, [error]]);
  // The connection goes on trying (maxRetries is unbounded by default): only the
  // subscription ended.
  assert.notEqual(db.connection().state, "closed");
  // A bad option still throws at once, before any request.
  assert.throws(() => db.subscribe("users", { snapshot: false, columns: "email" as never }), TypeError);
});

test("with --workers 2: the verbs, a read-only refusal and a feed cross the gateway/worker seam", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup), 0, "app.py", ["--databases", "--admin-key", ADMIN_KEY, "--workers", "2"]);
  // SIGTERM, not the harness's SIGKILL: the supervisor then stops its gateway and workers,
  // which would otherwise outlive it holding the test's pipes open.
  cleanup.add(() => hub.kill("SIGTERM"));
  const url = `http://${hub.host}`;
  const provisioning = admin(url, ADMIN_KEY);
  const created = await provisioning.createDatabase("clustered");
  const viewer = await provisioning.createToken("clustered", { readOnly: true });
  const db = open(url, "clustered", created.token);
  await db.migrate([["0001", USERS]]);
  const changes = db.subscribe<User>("users", { where: { team: "a" } })[Symbol.asyncIterator]();
  const other = open(url, "clustered", created.token);
  await other.table<User>("users").insert([
    { id: "u1", email: "ann@acme.com", team: "a", age: 31 },
    { id: "u2", email: "bob@acme.com", team: "b", age: 25 },
  ]);
  const seen = await take(changes, 1, "the first change");
  assert.ok(seen[0]?.[0] === "snapshot" || seen[0]?.[0] === "insert", JSON.stringify(seen));
  assert.deepEqual(seen[0]?.[1], { id: "u1", email: "ann@acme.com", team: "a", age: 31 });
  assert.equal(await other.table<User>("users").where({ team: ["a", "b"] }).count(), 2);
  const refused = await failure(open(url, "clustered", viewer.token).table("users").delete());
  assert.ok(refused instanceof ReadOnly, refused.message);
  assertUnauthorized(await failure(open(url, "clustered", "rdb_0000000000000000_wrong").health()));
});

test("restore: a database goes back to a bookmark and a time, and the undo bookmark undoes it", async () => {
  const url = await startHub();
  const root = admin(url, ADMIN_KEY);
  const created = await root.createDatabase("timeline");
  const reader = await root.createToken("timeline", { readOnly: true });
  const db = open(url, "timeline", created.token);
  await db.query("CREATE TABLE t (k INTEGER PRIMARY KEY)");
  await db.query("INSERT INTO t VALUES (1)");
  const point = (await db.stats()).bookmark;
  assert.equal(typeof point, "string");
  await new Promise((resolve) => setTimeout(resolve, 20));
  const between = Date.now() / 1000;
  await new Promise((resolve) => setTimeout(resolve, 20));
  await db.query("INSERT INTO t VALUES (2)");
  const restored = await db.restore(point as string);
  assert.equal(restored.restored, point);
  assert.deepEqual((await db.query("SELECT k FROM t")).rows, [[1]]);
  await db.restore(restored.undo);
  assert.deepEqual((await db.query("SELECT k FROM t")).rows, [[1], [2]]);
  const byTime = await root.restoreDatabase("timeline", new Date(between * 1000));
  assert.ok(byTime.undo > byTime.restored, "bookmarks sort in time order");
  assert.deepEqual((await db.query("SELECT k FROM t")).rows, [[1]]);
  assert.ok((await failure(open(url, "timeline", reader.token).restore(point as string))) instanceof ReadOnly);
  assert.ok((await failure(db.restore("not-a-bookmark"))) instanceof InvalidArguments);
  await assert.rejects(db.restore(Number.NaN), TypeError);
});
