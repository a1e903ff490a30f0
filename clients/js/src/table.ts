/**
 * The table client of a database (docs/databases.md, table verbs): an immutable query
 * builder over one table whose last call sends one verb.
 *
 *     const users = db.table<User>("users");
 *     await users.insert({ id: "u1", email: "ann@acme.com" });
 *     const acme = users.where({ email: { like: "%@acme.com" } }).orderBy("email");
 *     const page = await acme.limit(20).offset(40).all();
 *     const total = await acme.count();
 *     await users.where({ id: "u1" }).update({ email: "ann@acme.org" });
 *
 * Rules:
 *
 * 1. A `Table` never changes: `where`, `orderBy`, `limit`, `offset` and `select` return a
 *    new one, so a builder can be kept and reused as a base.
 * 2. `where` calls add up (all must hold); `orderBy` calls add keys (the first sorts
 *    first); `limit`, `offset` and `select` replace the earlier value.
 * 3. `all` and `first` send `select` with all of it (`first`: `limit` 1). `count` sends
 *    the conditions only (the count of every matching row, whatever the limit: a page's
 *    total). `update` and `delete` send the conditions and refuse a builder with a
 *    `limit` or `offset` (`TypeError`): the verbs have none, and ignoring them would
 *    write more rows than asked. No `where` means every row.
 * 4. Arguments are checked here (`TypeError`, `RangeError`); columns and tables by the
 *    hub (`InvalidArguments`).
 */

import type { Where } from "./frames.js";
import type { DbRow, Param } from "./results.js";
import { type WhereInput, whereArray } from "./where.js";

/** A sort direction. */
export type OrderDirection = "asc" | "desc";

/** What a table sends its verbs through (its database). */
export interface TablePort {
  /** Send data verb `verb` with `body` as its keyword arguments; resolve with the hub's answer. */
  call<T>(verb: string, body: Record<string, unknown>): Promise<T>;
}

/** The wire arguments of `select` (docs/databases.md). */
export interface SelectArguments {
  table: string;
  where: Where;
  columns: string[] | null;
  order_by: [string, OrderDirection][];
  limit: number | null;
  offset: number;
}

/** Values to write: every key a column of `R`, every value a parameter. */
export type Values<R extends object> = { [K in keyof R]?: R[K] & Param };

interface State {
  readonly where: Where;
  readonly columns: readonly string[] | null;
  readonly orderBy: readonly (readonly [string, OrderDirection])[];
  readonly limit: number | null;
  readonly offset: number;
}

const EMPTY: State = Object.freeze({ where: [], columns: null, orderBy: [], limit: null, offset: 0 });

function count(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

function column(what: string, value: unknown): string {
  if (typeof value !== "string" || value === "") throw new TypeError(`${what} must be a non-empty column name, got ${JSON.stringify(value)}`);
  return value;
}

function values(what: string, row: unknown): Record<string, unknown> {
  if (typeof row !== "object" || row === null || Array.isArray(row)) throw new TypeError(`${what} must be an object of column values`);
  return { ...row };
}

/**
 * One table of a database, with the conditions, order, page and columns built so far
 * (rule 1). `R` is the row type: `db.table<User>("users")`.
 */
export class Table<R extends object = DbRow> {
  /** The table's name. */
  readonly name: string;
  readonly #port: TablePort;
  readonly #state: State;

  /** Made by `Database.table`. */
  constructor(port: TablePort, name: string, state: State = EMPTY) {
    if (typeof name !== "string" || name === "") throw new TypeError(`table must be a non-empty string, got ${JSON.stringify(name)}`);
    this.#port = port;
    this.name = name;
    this.#state = state;
  }

  #with<S extends object = R>(change: Partial<State>): Table<S> {
    return new Table<S>(this.#port, this.name, Object.freeze({ ...this.#state, ...change }));
  }

  // -- building (rule 1) -----------------------------------------------------------------

  /**
   * Only the rows matching `where` too (rule 2): `{ id: "u1" }`, `{ age: { gte: 18 } }`,
   * `{ or: [{ role: "admin" }, { id: "u1" }] }`, or the wire form (SPEC §9.4).
   */
  where(where: WhereInput<R>): Table<R> {
    return this.#with({ where: [...this.#state.where, ...whereArray<R>(where)] });
  }

  /** Sort by `column` too (after the keys given before). */
  orderBy(key: keyof R & string, direction: OrderDirection = "asc"): Table<R> {
    if (direction !== "asc" && direction !== "desc") throw new TypeError(`direction must be "asc" or "desc", got ${JSON.stringify(direction)}`);
    return this.#with({ orderBy: [...this.#state.orderBy, [column("orderBy", key), direction]] });
  }

  /** At most `n` rows. */
  limit(n: number): Table<R> {
    return this.#with({ limit: count("limit", n) });
  }

  /** Skip the first `n` rows. */
  offset(n: number): Table<R> {
    return this.#with({ offset: count("offset", n) });
  }

  /** Only these columns in each row (none: every column). */
  select<K extends keyof R & string>(...columns: K[]): Table<Pick<R, K>> {
    return this.#with<Pick<R, K>>({ columns: columns.length === 0 ? null : columns.map((name) => column("select", name)) });
  }

  /** The arguments `all()` sends (a copy). */
  toJSON(): SelectArguments {
    const { where, columns, orderBy, limit, offset } = this.#state;
    return {
      table: this.name,
      where: structuredClone(where),
      columns: columns === null ? null : [...columns],
      order_by: orderBy.map(([key, direction]) => [key, direction]),
      limit,
      offset,
    };
  }

  // -- reading ---------------------------------------------------------------------------

  /** The matching rows, in the order asked (else the table's). */
  async all(): Promise<R[]> {
    const answer = await this.#port.call<{ rows: R[] }>("select", { ...this.toJSON() });
    return answer.rows;
  }

  /** The first matching row, or null. */
  async first(): Promise<R | null> {
    const answer = await this.#port.call<{ rows: R[] }>("select", { ...this.toJSON(), limit: 1 });
    return answer.rows[0] ?? null;
  }

  /** How many rows match (every one: `limit`, `offset` and order do not count here; rule 3). */
  async count(): Promise<number> {
    const answer = await this.#port.call<{ count: number }>("count", { table: this.name, where: this.toJSON().where });
    return answer.count;
  }

  // -- writing ---------------------------------------------------------------------------

  /**
   * Insert one row or several (at most 1000, in one transaction); resolves with the rowid
   * of the last one inserted (0 if there is none), as the Python SDK. An empty array
   * sends nothing.
   */
  async insert(rows: Values<R> | readonly Values<R>[]): Promise<number> {
    const list = Array.isArray(rows) ? rows.map((row, index) => values(`rows[${index}]`, row)) : [values("row", rows)];
    if (list.length === 0) return 0;
    const answer = await this.#port.call<{ last_insert_rowid: number | null }>("insert", { table: this.name, rows: list });
    return answer.last_insert_rowid ?? 0;
  }

  /** Set these columns on every matching row (rule 3); resolves with how many changed. */
  async update(set: Values<R>): Promise<number> {
    const body = { table: this.name, where: this.#writeWhere("update"), set: values("set", set) };
    return (await this.#port.call<{ rows_written: number }>("update", body)).rows_written;
  }

  /** Delete every matching row (rule 3); resolves with how many were deleted. */
  async delete(): Promise<number> {
    return (await this.#port.call<{ rows_written: number }>("delete", { table: this.name, where: this.#writeWhere("delete") })).rows_written;
  }

  #writeWhere(verb: string): Where {
    if (this.#state.limit !== null || this.#state.offset !== 0) {
      throw new TypeError(`${verb}() writes every matching row: it takes no limit() or offset() (narrow it with where())`);
    }
    return this.toJSON().where;
  }
}
