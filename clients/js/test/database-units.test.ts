/**
 * The database client without a hub: the `where` translation (pure), the table builder
 * (immutable), and the exact HTTP requests each call sends, recorded by a real HTTP
 * server on 127.0.0.1 that answers as the hub would (docs/databases.md).
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";

import WebSocket from "ws";

import {
  CallTimeout,
  ConnectFailed,
  DatabaseExists,
  InvalidArguments,
  MigrationConflict,
  NoSuchDatabase,
  QueryError,
  ReadOnly,
  ResultTooLarge,
  RoostError,
  StatementNotAllowed,
  admin,
  database,
  whereArray,
} from "../src/index.js";

describe("where: the object form to the wire form (SPEC §9.4)", () => {
  test("a bare value is eq, null included; members in order", () => {
    assert.deepEqual(whereArray({ id: "u1", age: 30, admin: true, left: null }), [
      ["id", "eq", "u1"],
      ["age", "eq", 30],
      ["admin", "eq", true],
      ["left", "eq", null],
    ]);
  });

  test("an object of operators is one condition per operator, in order", () => {
    assert.deepEqual(whereArray({ age: { gte: 18, lt: 65 }, email: { like: "%@acme.com" }, role: { in: ["a", null] } }), [
      ["age", "gte", 18],
      ["age", "lt", 65],
      ["email", "like", "%@acme.com"],
      ["role", "in", ["a", null]],
    ]);
    assert.deepEqual(whereArray({ id: ["a", "b"], n: [] }), [
      ["id", "in", ["a", "b"]],
      ["n", "in", []],
    ], "an array is in, as the Python SDK's where(id=[...])");
    assert.deepEqual(whereArray({ id: { neq: "u1", eq: "u2" } }), [
      ["id", "neq", "u1"],
      ["id", "eq", "u2"],
    ]);
  });

  test("or holds alternatives, each an object or the wire form, nested", () => {
    assert.deepEqual(whereArray({ team: "t", or: [{ role: "admin" }, [["id", "eq", "u1"]], { or: [{ a: 1 }, { b: { gt: 2 } }] }] }), [
      ["team", "eq", "t"],
      { or: [[["role", "eq", "admin"]], [["id", "eq", "u1"]], [{ or: [[["a", "eq", 1]], [["b", "gt", 2]]] }]] },
    ]);
  });

  test("the wire form passes as a copy; nothing is every row", () => {
    const wire: [string, "eq", string][] = [["id", "eq", "u1"]];
    const sent = whereArray(wire);
    assert.deepEqual(sent, wire);
    assert.notEqual(sent, wire);
    assert.deepEqual(whereArray(undefined), []);
    assert.deepEqual(whereArray({}), []);
  });

  test("what cannot be translated is a TypeError naming the member", () => {
    const cases: [unknown, RegExp][] = [
      [{ id: undefined }, /where\.id is undefined/],
      [{ age: { between: [1, 2] } }, /unknown operator "between"/],
      [{ age: {} }, /where\.age is an empty object/],
      [{ role: { in: "a" } }, /where\.role\.in must be an array/],
      [{ role: [{}] }, /where\.role\.in must be an array of strings/],
      [{ at: new Date(0) }, /where\.at must be .* got an object \(Date\)/],
      [{ n: Number.NaN }, /where\.n must be/],
      [{ age: { gt: [1] } }, /where\.age\.gt must be a string/],
      [{ or: [] }, /where\.or must be a non-empty array/],
      [{ or: { a: 1 } }, /where\.or must be a non-empty array/],
      ["id = 1", /where must be an object of columns or an array/],
    ];
    for (const [where, message] of cases) {
      assert.throws(() => whereArray(where as never), (error: unknown) => error instanceof TypeError && message.test(error.message), String(message));
    }
  });
});

/** A request as the recording server saw it. */
interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

/** A real HTTP server that records requests and answers with what the test queued. */
class Recorder {
  readonly seen: Seen[] = [];
  readonly answers: [number, string][] = [];
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      void this.handle(request).then(([status, text]) => {
        response.writeHead(status, { "content-type": "application/json" }).end(text);
      });
    });
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** Answer the next request with `body` (JSON) and `status`. */
  answer(body: unknown, status = 200): void {
    this.answers.push([status, typeof body === "string" ? body : JSON.stringify(body)]);
  }

  private async handle(request: IncomingMessage): Promise<[number, string]> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    this.seen.push({
      method: request.method ?? "",
      path: request.url ?? "",
      authorization: request.headers.authorization,
      contentType: request.headers["content-type"],
      body: text === "" ? undefined : JSON.parse(text),
    });
    return this.answers.shift() ?? [500, '{"error": {"code": "internal_error", "message": "no answer queued", "retryable": true}}'];
  }
}

const QUERY_ANSWER = { columns: ["n"], rows: [[1]], rows_read: 1, rows_written: 0, last_insert_rowid: null };
const STATS_ANSWER = { name: "a", created: 1.5, size: 4096, tables: [], rows_read: 0, rows_written: 0, feed_seq: 0, last_write: null };

describe("the requests of the database client", () => {
  const recorder = new Recorder();
  let url = "";

  before(async () => {
    url = await recorder.start();
  });
  after(() => recorder.stop());
  beforeEach(() => {
    recorder.seen.length = 0;
    recorder.answers.length = 0;
  });

  test("query: POST /db/{name}/query with the token, sql and params; the answer in camelCase", async () => {
    const db = database(url, "org acme/1", { token: "rdb_t" });
    recorder.answer({ ...QUERY_ANSWER, rows_written: 2, last_insert_rowid: 7 });
    const result = await db.query("SELECT ? + ?", 1, "x");
    assert.deepEqual(recorder.seen, [
      { method: "POST", path: "/db/org%20acme%2F1/query", authorization: "Bearer rdb_t", contentType: "application/json", body: { sql: "SELECT ? + ?", params: [1, "x"] } },
    ]);
    assert.deepEqual({ ...result }, { columns: ["n"], rows: [[1]], rowsRead: 1, rowsWritten: 2, lastInsertRowid: 7 });
    assert.deepEqual(result.objects(), [{ n: 1 }]);
  });

  test("a token function is called before every request", async () => {
    let n = 0;
    const db = database(`${url}/`, "a", { token: async () => `rdb_${++n}` });
    recorder.answer(QUERY_ANSWER);
    recorder.answer(QUERY_ANSWER);
    await db.query("SELECT 1");
    await db.query("SELECT 1");
    assert.deepEqual(recorder.seen.map((seen) => seen.authorization), ["Bearer rdb_1", "Bearer rdb_2"]);
  });

  test("batch takes {sql, params}, [sql, ...params], [sql, [params]] and plain SQL", async () => {
    const db = database(url, "a", { token: "t" });
    recorder.answer({ results: [QUERY_ANSWER, QUERY_ANSWER, QUERY_ANSWER, QUERY_ANSWER] });
    const results = await db.batch([
      { sql: "INSERT INTO t VALUES (?)", params: [1] },
      ["INSERT INTO t VALUES (?, ?)", 2, null],
      ["INSERT INTO t VALUES (?, ?)", [3, "x"]],
      "DELETE FROM t",
    ]);
    assert.deepEqual(recorder.seen[0]?.body, {
      statements: [
        { sql: "INSERT INTO t VALUES (?)", params: [1] },
        { sql: "INSERT INTO t VALUES (?, ?)", params: [2, null] },
        { sql: "INSERT INTO t VALUES (?, ?)", params: [3, "x"] },
        { sql: "DELETE FROM t", params: [] },
      ],
    });
    assert.equal(results.length, 4);
    assert.equal(results[2]?.rowsRead, 1);
  });

  test("table verbs: the arguments each one sends", async () => {
    const db = database(url, "a", { token: "t" });
    const users = db.table<{ id: string; email: string; age: number }>("users");
    recorder.answer({ rows_written: 2, last_insert_rowid: 2 });
    recorder.answer({ rows: [{ id: "u1", email: "a@acme.com" }] });
    recorder.answer({ rows: [] });
    recorder.answer({ count: 5 });
    recorder.answer({ rows_written: 1 });
    recorder.answer({ rows_written: 3 });
    const inserted = await users.insert([{ id: "u1", email: "a@acme.com", age: 30 }, { id: "u2", email: "b@x.org" }]);
    const acme = users.where({ email: { like: "%@acme.com" } }).where({ age: { gte: 18 } });
    const rows = await acme.orderBy("email", "desc").orderBy("id").limit(10).offset(20).select("id", "email").all();
    const first = await acme.first();
    const total = await acme.limit(10).count();
    const updated = await users.where({ id: "u1" }).update({ email: "new@acme.com" });
    const deleted = await acme.orderBy("id").delete();
    const likeAcme = ["email", "like", "%@acme.com"];
    const adult = ["age", "gte", 18];
    assert.deepEqual(
      recorder.seen.map((seen) => [seen.path, seen.body]),
      [
        ["/db/a/insert", { table: "users", rows: [{ id: "u1", email: "a@acme.com", age: 30 }, { id: "u2", email: "b@x.org" }] }],
        ["/db/a/select", { table: "users", where: [likeAcme, adult], columns: ["id", "email"], order_by: [["email", "desc"], ["id", "asc"]], limit: 10, offset: 20 }],
        ["/db/a/select", { table: "users", where: [likeAcme, adult], columns: null, order_by: [], limit: 1, offset: 0 }],
        ["/db/a/count", { table: "users", where: [likeAcme, adult] }],
        ["/db/a/update", { table: "users", where: [["id", "eq", "u1"]], set: { email: "new@acme.com" } }],
        ["/db/a/delete", { table: "users", where: [likeAcme, adult] }],
      ],
    );
    assert.equal(inserted, 2, "insert resolves with the last rowid");
    assert.deepEqual(rows, [{ id: "u1", email: "a@acme.com" }]);
    assert.equal(first, null);
    assert.equal(total, 5);
    assert.deepEqual([updated, deleted], [1, 3], "update and delete resolve with the rows written");
  });

  test("the builder is immutable: every call returns a new one and leaves the old alone", () => {
    const db = database(url, "a", { token: "t" });
    const users = db.table("users");
    const base = users.where({ team: "t" });
    const sorted = base.orderBy("name");
    const paged = sorted.limit(5).offset(10);
    const narrow = paged.select("id");
    const again = base.where({ role: "admin" });
    for (const [a, b] of [[users, base], [base, sorted], [sorted, paged], [paged, narrow], [base, again]] as const) assert.notEqual(a, b);
    assert.deepEqual(users.toJSON(), { table: "users", where: [], columns: null, order_by: [], limit: null, offset: 0 });
    assert.deepEqual(base.toJSON(), { table: "users", where: [["team", "eq", "t"]], columns: null, order_by: [], limit: null, offset: 0 });
    assert.deepEqual(sorted.toJSON().order_by, [["name", "asc"]]);
    assert.deepEqual([sorted.toJSON().limit, paged.toJSON().limit, paged.toJSON().offset], [null, 5, 10]);
    assert.deepEqual([paged.toJSON().columns, narrow.toJSON().columns], [null, ["id"]]);
    assert.deepEqual(again.toJSON().where, [["team", "eq", "t"], ["role", "eq", "admin"]]);
    assert.deepEqual(narrow.limit(1).toJSON().limit, 1, "limit replaces");
    assert.deepEqual(narrow.select().toJSON().columns, null, "select() is every column");
    const copy = base.toJSON();
    copy.where.push(["x", "eq", 1]);
    assert.deepEqual(base.toJSON().where, [["team", "eq", "t"]], "toJSON hands out a copy");
  });

  test("bad builder calls throw at once and send nothing", async () => {
    const users = database(url, "a", { token: "t" }).table("users");
    assert.throws(() => users.limit(-1), RangeError);
    assert.throws(() => users.offset(1.5), RangeError);
    assert.throws(() => users.orderBy("id", "up" as "asc"), TypeError);
    assert.throws(() => users.select(""), TypeError);
    assert.throws(() => users.where({ id: undefined }), TypeError);
    await assert.rejects(users.limit(1).delete(), /delete\(\) writes every matching row: it takes no limit\(\) or offset\(\)/);
    await assert.rejects(users.offset(3).update({ a: 1 }), TypeError);
    await assert.rejects(users.update(null as never), /set must be an object/);
    assert.equal(await users.insert([]), 0, "an empty insert sends nothing");
    assert.deepEqual(recorder.seen, []);
  });

  test("migrate, stats, health", async () => {
    const db = database(url, "a", { token: "t" });
    recorder.answer({ applied: ["0001"], skipped: ["0000"] });
    recorder.answer({ applied: [], skipped: ["0000", "0001"] });
    recorder.answer({ name: "a", created: 1.5, size: 4096, tables: [{ name: "users", rows: 2 }], rows_read: 3, rows_written: 4, feed_seq: 5, last_write: 2.5 });
    recorder.answer({ status: "ok", name: "a" });
    assert.deepEqual(await db.migrate([["0000", "SELECT 1"], { name: "0001", sql: "CREATE TABLE t (id INTEGER PRIMARY KEY)" }]), { applied: ["0001"], skipped: ["0000"] });
    assert.deepEqual(await db.migrate({ "0000": "SELECT 1", "0001": "SELECT 2" }), { applied: [], skipped: ["0000", "0001"] });
    assert.deepEqual(await db.stats(), { name: "a", created: 1.5, size: 4096, tables: [{ name: "users", rows: 2 }], rowsRead: 3, rowsWritten: 4, feedSeq: 5, lastWrite: 2.5, bookmark: null });
    assert.deepEqual(await db.health(), { status: "ok", name: "a" });
    assert.deepEqual(
      recorder.seen.map((seen) => [seen.method, seen.path, seen.body]),
      [
        ["POST", "/db/a/migrate", { migrations: [{ name: "0000", sql: "SELECT 1" }, { name: "0001", sql: "CREATE TABLE t (id INTEGER PRIMARY KEY)" }] }],
        ["POST", "/db/a/migrate", { migrations: [{ name: "0000", sql: "SELECT 1" }, { name: "0001", sql: "SELECT 2" }] }],
        ["GET", "/db/a/stats", undefined],
        ["GET", "/db/a/health", undefined],
      ],
    );
  });

  test("admin: the routes, bodies and camelCase answers", async () => {
    const hub = admin(url, "K");
    recorder.answer({ name: "org", token: "rdb_1_s", token_id: "1", read_only: false, created: 1.0 }, 201);
    recorder.answer({ databases: [{ name: "org", created: 1.0, size: 8192, tokens: 1 }] });
    recorder.answer({ name: "org", created: 1.0, size: 8192, tokens: [{ token_id: "1", read_only: false, created: 1.0 }] });
    recorder.answer({ name: "org", token: "rdb_2_s", token_id: "2", read_only: true, revoked: ["1"] }, 201);
    recorder.answer({ revoked: "2" });
    recorder.answer({ applied: [], skipped: ["m"] });
    recorder.answer({ deleted: "org" });
    assert.deepEqual(await hub.createDatabase("org"), { name: "org", token: "rdb_1_s", tokenId: "1", readOnly: false, created: 1.0 });
    assert.deepEqual(await hub.listDatabases(), [{ name: "org", created: 1.0, size: 8192, tokens: 1 }]);
    assert.deepEqual(await hub.getDatabase("org"), { name: "org", created: 1.0, size: 8192, tokens: [{ tokenId: "1", readOnly: false, created: 1.0 }] });
    assert.deepEqual(await hub.createToken("org", { readOnly: true, revokeOthers: true }), { name: "org", token: "rdb_2_s", tokenId: "2", readOnly: true, revoked: ["1"] });
    await hub.revokeToken("org", "2");
    assert.deepEqual(await hub.migrate("org", [["m", "SELECT 1"]]), { applied: [], skipped: ["m"] });
    await hub.deleteDatabase("org");
    assert.deepEqual(
      recorder.seen.map((seen) => [seen.method, seen.path, seen.authorization, seen.body]),
      [
        ["POST", "/_roost/databases", "Bearer K", { name: "org", read_only: false }],
        ["GET", "/_roost/databases", "Bearer K", undefined],
        ["GET", "/_roost/databases/org", "Bearer K", undefined],
        ["POST", "/_roost/databases/org/tokens", "Bearer K", { read_only: true, revoke_others: true }],
        ["DELETE", "/_roost/databases/org/tokens/2", "Bearer K", undefined],
        ["POST", "/_roost/databases/org/migrate", "Bearer K", { migrations: [{ name: "m", sql: "SELECT 1" }] }],
        ["DELETE", "/_roost/databases/org", "Bearer K", undefined],
      ],
    );
  });

  test("error bodies become the SDK's classes by code, keeping the hub's flag", async () => {
    const db = database(url, "a", { token: "t" });
    const cases: [string, number, new (...args: never[]) => RoostError][] = [
      ["read_only", 403, ReadOnly],
      ["query_error", 400, QueryError],
      ["result_too_large", 413, ResultTooLarge],
      ["migration_conflict", 409, MigrationConflict],
      ["no_such_database", 404, NoSuchDatabase],
      ["database_exists", 409, DatabaseExists],
      ["statement_not_allowed", 403, StatementNotAllowed],
      ["invalid_arguments", 400, InvalidArguments],
    ];
    for (const [code, status, ErrorClass] of cases) {
      recorder.answer({ error: { code, message: `m ${code}`, retryable: false } }, status);
      await assert.rejects(db.query("x"), (error: unknown) => {
        assert.ok(error instanceof ErrorClass, `${code}: ${String(error)}`);
        assert.deepEqual([error.code, error.message, error.remote, error.retryable, error.id], [code, `m ${code}`, true, false, null]);
        return true;
      });
    }
    recorder.answer({ error: { code: "brand_new", message: "m", retryable: true } }, 418);
    await assert.rejects(db.query("x"), (error: unknown) => error instanceof RoostError && error.code === "brand_new" && error.retryable);
  });

  test("answers that are not the hub's are http_<status>, retryable for 5xx (as the Python SDK)", async () => {
    const db = database(url, "a", { token: "t" });
    recorder.answer("<html>bad gateway</html>", 502);
    recorder.answer("nope", 401);
    recorder.answer("[1]", 200);
    const failure = async (): Promise<unknown[]> => {
      try {
        await db.query("x");
      } catch (error) {
        assert.ok(error instanceof RoostError);
        return [error.code, error.retryable];
      }
      return ["resolved"];
    };
    assert.deepEqual([await failure(), await failure(), await failure()], [["http_502", true], ["http_401", false], ["http_200", false]]);
  });

  test("no server: ConnectFailed (retryable); a slow one: CallTimeout", async () => {
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(database(`http://127.0.0.1:${port}`, "a", { token: "t" }).query("x"), (error: unknown) => error instanceof ConnectFailed && error.retryable);

    const silent = createServer(() => undefined); // never answers
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const slow = database(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, "a", { token: "t", timeout: 50 });
    await assert.rejects(slow.query("x"), CallTimeout);
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });

  test("subscribe with snapshot: false reads the feed seq at the call; requests made meanwhile go once it is answered", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const arrived: string[] = [];
    const server = createServer((request, response) => {
      arrived.push(`${request.method ?? ""} ${request.url ?? ""}`);
      request.resume();
      const stats = request.url === "/db/a/stats";
      void (stats ? held : Promise.resolve()).then(() => {
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats ? { ...STATS_ANSWER, feed_seq: 9 } : QUERY_ANSWER));
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    let tokens = 0;
    const db = database(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, "a", {
      token: () => `rdb_${++tokens}`,
      socket: { WebSocket, startClosed: true }, // no socket: only the HTTP side here
    });
    try {
      const subscription = db.subscribe("users", { snapshot: false });
      const query = db.query("INSERT INTO users VALUES (1)");
      assert.equal(tokens, 1, "the stats request asked for its token; the query waits before it does");
      release();
      await query;
      assert.deepEqual(arrived, ["GET /db/a/stats", "POST /db/a/query"]);
      assert.equal(subscription.state, "subscribing");
    } finally {
      release();
      await db.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("subscribe with snapshot: false and a stats answer without a seq: ends with http_200", async () => {
    recorder.answer({ ...STATS_ANSWER, feed_seq: -1 });
    const db = database(url, "a", { token: "t", socket: { WebSocket, startClosed: true } });
    const subscription = db.subscribe("users", { snapshot: false });
    await assert.rejects(subscription[Symbol.asyncIterator]().next(), (error: unknown) => error instanceof RoostError && error.code === "http_200" && !error.retryable);
    assert.deepEqual([subscription.state, subscription.error?.code], ["closed", "http_200"]);
    assert.deepEqual(recorder.seen.map((seen) => [seen.method, seen.path]), [["GET", "/db/a/stats"]]);
    await db.close();
  });

  test("bad options throw TypeError", () => {
    assert.throws(() => database("127.0.0.1:8787", "a", { token: "t" }), /absolute http\(s\) URL/);
    assert.throws(() => database("ftp://x", "a", { token: "t" }), /http\(s\) URL/);
    assert.throws(() => database(url, "", { token: "t" }), /name must be a non-empty string/);
    assert.throws(() => database(url, "a", { token: "" }), /token must be a non-empty string/);
    assert.throws(() => database(url, "a", {} as never), /token must be/);
    assert.throws(() => admin(url, undefined as never), /adminKey must be/);
    assert.equal(database("ws://127.0.0.1:1/base", "a", { token: "t" }).url, "http://127.0.0.1:1/base/");
  });
});
