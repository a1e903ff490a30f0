/**
 * What database calls answer (docs/databases.md), in camelCase, and their translation
 * from the hub's JSON (snake_case). Column names inside rows are never renamed: they are
 * the table's own. Pure.
 */

/** A value of a column: integers and reals are numbers, text a string, NULL null, a BLOB its upper-case hex text. */
export type Value = number | string | null;

/** A row as the hub returns it: column name to value. */
export type DbRow = Record<string, Value>;

/** A parameter or column value sent to the hub: booleans are stored as 1 and 0. */
export type Param = number | string | boolean | null;

/** What `query` answers (and each statement of `batch`). */
export interface QueryResult {
  /** The result's column names, in order. */
  columns: string[];
  /** The rows, each an array of values in `columns` order. */
  rows: Value[][];
  /** Rows the statement returned. */
  rowsRead: number;
  /** Rows its INSERT / UPDATE / DELETE changed. */
  rowsWritten: number;
  /** The rowid of the last row inserted on the database, or null. */
  lastInsertRowid: number | null;
}

/** What `insert` answers. */
export interface InsertResult {
  rowsWritten: number;
  lastInsertRowid: number | null;
}

/** What `update` and `delete` answer. */
export interface WriteResult {
  rowsWritten: number;
}

/** What `migrate` answers: the migrations applied now, and those applied before (skipped). */
export interface MigrateResult {
  applied: string[];
  skipped: string[];
}

/** One table of `stats()`. */
export interface TableStats {
  name: string;
  rows: number;
}

/** What `stats()` answers. */
export interface DatabaseStats {
  name: string;
  /** Epoch seconds. */
  created: number;
  /** Bytes of the SQLite file (WAL excluded). */
  size: number;
  tables: TableStats[];
  /** Rows read and written since the database was created. */
  rowsRead: number;
  rowsWritten: number;
  /** The seq of the newest change of its feeds. */
  feedSeq: number;
  /** Epoch seconds of the last write, or null. */
  lastWrite: number | null;
}

/** What `health()` answers. */
export interface DatabaseHealth {
  status: "ok";
  name: string;
}

/** A migration: a name recorded once applied, and its SQL (several statements allowed). */
export interface Migration {
  name: string;
  sql: string;
}

/** A migration as `{name, sql}` or `[name, sql]`. */
export type MigrationInput = Migration | readonly [name: string, sql: string];

/** The hub's answers, as sent. */
export interface WireQueryResult {
  columns: string[];
  rows: Value[][];
  rows_read: number;
  rows_written: number;
  last_insert_rowid: number | null;
}

/** `query`'s answer in camelCase. */
export function queryResult(wire: WireQueryResult): QueryResult {
  return {
    columns: wire.columns,
    rows: wire.rows,
    rowsRead: wire.rows_read,
    rowsWritten: wire.rows_written,
    lastInsertRowid: wire.last_insert_rowid,
  };
}

/** `insert`'s answer in camelCase. */
export function insertResult(wire: { rows_written: number; last_insert_rowid: number | null }): InsertResult {
  return { rowsWritten: wire.rows_written, lastInsertRowid: wire.last_insert_rowid };
}

/** `stats`' answer in camelCase. */
export function statsResult(wire: {
  name: string;
  created: number;
  size: number;
  tables: TableStats[];
  rows_read: number;
  rows_written: number;
  feed_seq: number;
  last_write: number | null;
}): DatabaseStats {
  return {
    name: wire.name,
    created: wire.created,
    size: wire.size,
    tables: wire.tables,
    rowsRead: wire.rows_read,
    rowsWritten: wire.rows_written,
    feedSeq: wire.feed_seq,
    lastWrite: wire.last_write,
  };
}

/** The wire form of `migrations`; throws `TypeError` for one that is neither form. */
export function migrationsBody(migrations: readonly MigrationInput[]): { migrations: Migration[] } {
  if (!Array.isArray(migrations)) throw new TypeError("migrations must be an array of {name, sql} or [name, sql]");
  return {
    migrations: migrations.map((migration: MigrationInput, index) => {
      const [name, sql] = Array.isArray(migration) ? migration : [(migration as Migration).name, (migration as Migration).sql];
      if (typeof name !== "string" || typeof sql !== "string") {
        throw new TypeError(`migrations[${index}] must be {name, sql} or [name, sql] with strings`);
      }
      return { name, sql };
    }),
  };
}
