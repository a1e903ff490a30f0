/**
 * The client of one database object (docs/databases.md): its data verbs over HTTP, its
 * table client, and its change feeds over roost.v1.
 *
 *     import { database } from "roost-client";
 *     const db = database("http://127.0.0.1:8787", "org_acme", { token });
 *     await db.migrate([["0001_users", "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT)"]]);
 *     await db.query("INSERT INTO users VALUES (?, ?)", "u1", "ann@acme.com");
 *     const users = db.table<User>("users");
 *     const ann = await users.where({ email: { like: "%@acme.com" } }).first();
 *     for await (const change of db.subscribe("users", { where: { id: "u1" } })) { ... }
 *     await db.close();
 *
 * Rules:
 *
 * 1. Every verb is one `POST /db/{name}/{verb}` with the token as a bearer credential
 *    (a token function is called before each request and each socket). Errors are the
 *    SDK's classes by code (`http.ts`): `Unauthorized`-coded, `ReadOnly`, `QueryError`...
 * 2. Subscriptions share one roost.v1 `Connection` to `/db/{name}?token=...`, opened at
 *    the first `subscribe` and reconnecting by itself; `close()` ends it. The verbs never
 *    need it.
 * 3. `where` takes the object form of `where.ts` everywhere (tables and feeds alike).
 * 4. `subscribe` with `snapshot: false` and no `since` misses no change made after the
 *    call: it sends `GET stats` at once and subscribes `since` its `feed_seq` (the `sub`
 *    waits for it: feeds.ts rule 6; as the Python SDK). Requests of this client made
 *    while such a read is on its way wait until it is answered, so what they write is
 *    after that seq, in the feed.
 */

import { isId } from "./codec.js";
import { Connection } from "./connection.js";
import { ConnectionClosed, RoostError } from "./errors.js";
import type { SubscribeOptions, Subscription } from "./feeds.js";
import { type Credential, HttpClient, type HttpOptions, checkCredential, segment } from "./http.js";
import type { ConnectOptions } from "./options.js";
import {
  type DatabaseHealth,
  type DatabaseStats,
  type DbRow,
  type MigrateResult,
  type Migrations,
  type Param,
  QueryResult,
  type RestorePoint,
  type Restored,
  restoreBody,
  type WireQueryResult,
  migrationsBody,
  statsResult,
} from "./results.js";
import { Table, type TablePort } from "./table.js";
import { type WhereInput, whereArray } from "./where.js";

/** Options of the roost.v1 connection that carries subscriptions (`WebSocket` in Node 20, backoff, ...). */
export type SocketOptions = Omit<ConnectOptions, "url" | "host" | "protocol" | "prefix" | "binding" | "party" | "name" | "room" | "path" | "token" | "query">;

/** What `database()` takes. */
export interface DatabaseOptions extends HttpOptions {
  /** The database's token (`rdb_...`), or a function giving it (called before every request and socket). */
  token: Credential;
  /** Options of the roost.v1 connection of `subscribe` (in Node 20: `{ WebSocket }` from the `ws` package). */
  socket?: SocketOptions;
}

/**
 * One statement of `batch`: `{sql, params}`, `[sql, ...params]`, `[sql, [params]]` (the
 * Python SDK's form: a parameter is never an array, so it cannot be mistaken), or the SQL
 * alone.
 */
export type Statement =
  | { sql: string; params?: readonly Param[] }
  | readonly [sql: string, ...params: Param[]]
  | readonly [sql: string, params: readonly Param[]]
  | string;

/**
 * `subscribe`'s options: those of `Connection.subscribe`, with `where` in the object form
 * too, and `snapshot` true unless `since` is given (as the Python SDK).
 */
export interface DatabaseSubscribeOptions<R extends object = DbRow> extends Omit<SubscribeOptions, "where"> {
  where?: WhereInput<R>;
}

function statement(item: Statement, index: number): { sql: string; params: Param[] } {
  if (typeof item === "string") return { sql: item, params: [] };
  if (Array.isArray(item)) {
    const [sql, ...rest] = item as readonly unknown[];
    if (typeof sql !== "string") throw new TypeError(`statements[${index}][0] must be the SQL text`);
    const params = rest.length === 1 && Array.isArray(rest[0]) ? rest[0] : rest;
    return { sql, params: [...(params as Param[])] };
  }
  const { sql, params = [] } = item as { sql: string; params?: readonly Param[] };
  if (typeof sql !== "string" || !Array.isArray(params)) {
    throw new TypeError(`statements[${index}] must be {sql, params}, [sql, ...params] or a string`);
  }
  return { sql, params: [...params] };
}

/** A database object reached with its token. Made by `database()`. */
export class Database {
  /** The database's name. */
  readonly name: string;
  readonly #http: HttpClient;
  readonly #path: string;
  readonly #token: Credential;
  readonly #socket: SocketOptions;
  readonly #port: TablePort;
  /** The feed seq reads of `subscribe` on their way: later requests wait for them (rule 4). */
  readonly #seqReads = new Set<Promise<unknown>>();
  #connection: Connection | null = null;

  constructor(url: string, name: string, options: DatabaseOptions) {
    if (typeof options !== "object" || options === null) throw new TypeError("options must be an object with a token");
    this.#path = `db/${segment(name)}/`;
    this.name = name;
    this.#token = checkCredential("token", options.token);
    this.#http = new HttpClient(url, this.#token, options);
    this.#socket = { ...options.socket };
    this.#port = { call: (verb, body) => this.call(verb, body) };
  }

  /** The hub's base URL (with a trailing slash). */
  get url(): string {
    return this.#http.base;
  }

  /**
   * Send data verb `verb` with keyword arguments `body` and resolve with the hub's answer
   * as sent (snake_case): the way to a verb this SDK has no method for.
   */
  call<T = unknown>(verb: string, body: Record<string, unknown> = {}): Promise<T> {
    return this.#request<T>("POST", this.#path + segment(verb), body);
  }

  /** Run one SQL statement with positional `?` parameters. */
  async query(sql: string, ...params: Param[]): Promise<QueryResult> {
    if (typeof sql !== "string") throw new TypeError(`sql must be a string, got ${typeof sql}`);
    return new QueryResult(await this.call<WireQueryResult>("query", { sql, params }));
  }

  /**
   * Run statements in one transaction, all or nothing (a failing one rolls back every
   * one; its error message starts `statement N:`). Resolves with each statement's result.
   */
  async batch(statements: readonly Statement[]): Promise<QueryResult[]> {
    if (!Array.isArray(statements)) throw new TypeError("statements must be an array");
    const answer = await this.call<{ results: WireQueryResult[] }>("batch", { statements: statements.map(statement) });
    return answer.results.map((result) => new QueryResult(result));
  }

  /** The table client of `name` (`db.table<User>("users")` types its rows). */
  table<R extends object = DbRow>(name: string): Table<R> {
    return new Table<R>(this.#port, name);
  }

  /**
   * Apply migrations (`{name, sql}`, `[name, sql]`, or an object of name to SQL), each at
   * most once, in order, all in one transaction. An applied one whose SQL changed:
   * `MigrationConflict`.
   */
  async migrate(migrations: Migrations): Promise<MigrateResult> {
    return this.call<MigrateResult>("migrate", migrationsBody(migrations));
  }

  /** Size, tables with row counts, rows read and written, feed seq, last write. */
  async stats(): Promise<DatabaseStats> {
    return statsResult(await this.#request("GET", `${this.#path}stats`));
  }

  /**
   * Restore the database to a point in time: epoch seconds, a `Date`, or a bookmark
   * (`stats().bookmark`). Needs a read-write token (`ReadOnly` otherwise). Open sockets
   * stay; feed subscribers get a `reset` and resubscribe. Restoring `undo` undoes it.
   */
  async restore(at: RestorePoint): Promise<Restored> {
    return this.call<Restored>("restore", restoreBody(at));
  }

  /** `{status: "ok", name}` once the database answered a `SELECT 1`. */
  async health(): Promise<DatabaseHealth> {
    return this.#request<DatabaseHealth>("GET", `${this.#path}health`);
  }

  /**
   * The roost.v1 connection of this database (rule 2), opened now if it is not: its
   * `call(verb, [], kwargs)` reaches the same verbs over the socket.
   */
  connection(): Connection {
    if (this.#connection === null || this.#connection.state === "closed") {
      const url = new URL(this.#path.slice(0, -1), this.#http.base).href;
      this.#connection = new Connection({ ...this.#socket, url, token: this.#token });
    }
    return this.#connection;
  }

  /**
   * The change feed of `table` (SPEC §9): the matching rows first (op `snapshot`), then
   * every insert, update and delete. `since: seq`: the changes after that seq instead of
   * the rows. `snapshot: false`: only the changes made after this call, none lost while
   * the subscription is set up (rule 4: its seq is read with `stats()` first; if that
   * fails, the subscription ends with the error). Iterate it, or listen to its `change`
   * events; `unsubscribe()` ends it. Options as `Connection.subscribe`, `where` in the
   * object form too.
   */
  subscribe<R extends object = DbRow>(table: string, options: DatabaseSubscribeOptions<R> = {}): Subscription {
    const { where, snapshot = options.since === undefined, ...rest } = options;
    const conditions = whereArray<R>(where);
    if (snapshot || rest.since !== undefined) return this.connection().subscribe(table, { ...rest, snapshot, where: conditions });
    return this.connection().subscribeAfter(table, { ...rest, where: conditions }, () => this.#feedSeq());
  }

  /** `method` `path` once the feed seq reads on their way are answered (rule 4). */
  async #request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    if (this.#seqReads.size > 0) await Promise.allSettled(this.#seqReads);
    return this.#http.request<T>(method, path, body);
  }

  /** The feed seq now (rule 4), read ahead of any later request; rejects with a `RoostError`. */
  #feedSeq(): Promise<number> {
    const read = this.#http.request<{ feed_seq?: unknown }>("GET", `${this.#path}stats`).then(
      ({ feed_seq: seq }) => {
        if (isId(seq)) return seq;
        const got = `feed_seq is ${JSON.stringify(seq)}, expected an integer from 0 to ${Number.MAX_SAFE_INTEGER}`;
        throw new RoostError("http_200", `GET ${this.url}${this.#path}stats: ${got}`, { remote: true });
      },
      (error: unknown) => {
        if (error instanceof RoostError) throw error;
        throw new ConnectionClosed(`could not read the feed seq: ${String(error)}`, { cause: error });
      },
    );
    this.#seqReads.add(read);
    const done = (): void => void this.#seqReads.delete(read);
    read.then(done, done);
    return read;
  }

  /** Close the roost.v1 connection, if one is open (its subscriptions end). */
  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = null;
    await connection?.close();
  }
}

/** The client of database `name` on the hub at `url` (`http(s)://host:port`), with its token. */
export function database(url: string, name: string, options: DatabaseOptions): Database {
  return new Database(url, name, options);
}
