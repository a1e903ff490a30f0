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
export class QueryResult {
  /** The result's column names, in order. */
  readonly columns: string[];
  /** The rows, each an array of values in `columns` order. */
  readonly rows: Value[][];
  /** Rows the statement returned. */
  readonly rowsRead: number;
  /** Rows its INSERT / UPDATE / DELETE changed. */
  readonly rowsWritten: number;
  /** The rowid of the last row inserted on the database, or null. */
  readonly lastInsertRowid: number | null;

  /** The hub's answer (snake_case) in camelCase. */
  constructor(wire: WireQueryResult) {
    this.columns = wire.columns;
    this.rows = wire.rows;
    this.rowsRead = wire.rows_read;
    this.rowsWritten = wire.rows_written;
    this.lastInsertRowid = wire.last_insert_rowid ?? null;
  }

  /** The rows as `{column: value}` objects (the Python SDK's `dicts()`). */
  objects<R extends object = DbRow>(): R[] {
    return this.rows.map((row) => Object.fromEntries(this.columns.map((column, i) => [column, row[i] ?? null])) as R);
  }
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
  /** The bookmark of the state now (for `restore`), or null when the hub keeps no backup. */
  bookmark: string | null;
}

/** A restore: the bookmark restored, and the one that undoes it. */
export interface Restored {
  restored: string;
  undo: string;
}

/** A point to restore to: epoch seconds, a `Date`, or a bookmark string. */
export type RestorePoint = number | Date | string;

/** The wire form of a restore point; throws `TypeError` for anything else. */
export function restoreBody(at: RestorePoint): { at: number } | { bookmark: string } {
  if (typeof at === "string") return { bookmark: at };
  if (at instanceof Date) return { at: at.getTime() / 1000 };
  if (typeof at === "number" && Number.isFinite(at)) return { at };
  throw new TypeError(`restore takes epoch seconds, a Date or a bookmark, got ${String(at)}`);
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

/** Migrations: an array of them, or an object of name to SQL (applied in key order). */
export type Migrations = readonly MigrationInput[] | Readonly<Record<string, string>>;

/** The hub's answers, as sent. */
export interface WireQueryResult {
  columns: string[];
  rows: Value[][];
  rows_read: number;
  rows_written: number;
  last_insert_rowid: number | null;
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
  bookmark?: string | null;
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
    bookmark: wire.bookmark ?? null,
  };
}

/** The wire form of `migrations`; throws `TypeError` for one that is neither form. */
export function migrationsBody(migrations: Migrations): { migrations: Migration[] } {
  if (typeof migrations !== "object" || migrations === null) {
    throw new TypeError("migrations must be an array of {name, sql} or [name, sql], or an object of name to SQL");
  }
  const items: readonly unknown[] = Array.isArray(migrations) ? migrations : Object.entries(migrations);
  return {
    migrations: items.map((migration, index) => {
      const [name, sql] = Array.isArray(migration) ? (migration as unknown[]) : [(migration as Migration | null)?.name, (migration as Migration | null)?.sql];
      if (typeof name !== "string" || typeof sql !== "string") {
        throw new TypeError(`migrations[${index}] must be {name, sql} or [name, sql] with strings`);
      }
      return { name, sql };
    }),
  };
}
