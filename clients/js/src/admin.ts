/**
 * Provisioning of database objects with the hub's admin key (docs/databases.md, admin
 * API): create, list, describe and delete databases; mint and revoke their tokens; send
 * migrations. Meant for an app server: never give the admin key to a browser.
 *
 *     import { admin, database } from "roost-client";
 *     const hub = admin("http://127.0.0.1:8787", process.env.ROOST_ADMIN_KEY!);
 *     const { token } = await hub.createDatabase("org_acme");
 *     const { token: viewer } = await hub.createToken("org_acme", { readOnly: true });
 *     const db = database("http://127.0.0.1:8787", "org_acme", { token });
 *
 * Errors are the SDK's classes by code: `DatabaseExists`, `NoSuchDatabase`, an
 * `unauthorized`-coded error for a wrong admin key (or a hub started without one).
 */

import { type Credential, HttpClient, type HttpOptions, checkCredential, segment } from "./http.js";
import {
  type MigrateResult,
  type Migrations,
  type RestorePoint,
  type Restored,
  migrationsBody,
  restoreBody,
} from "./results.js";

/** A token just minted: the only time its secret is seen. */
export interface CreatedToken {
  /** The database it opens. */
  name: string;
  /** The token itself (`rdb_<tokenId>_<secret>`): keep it, it cannot be read again. */
  token: string;
  /** Its public id, for `revokeToken`. */
  tokenId: string;
  readOnly: boolean;
}

/** What `createDatabase` answers: the database and its first token. */
export interface CreatedDatabase extends CreatedToken {
  /** Epoch seconds. */
  created: number;
}

/** What `createToken` answers: the new token, and the ids it revoked (`revokeOthers`). */
export interface RotatedToken extends CreatedToken {
  revoked: string[];
}

/** One token of a database (never its secret). */
export interface TokenInfo {
  tokenId: string;
  readOnly: boolean;
  /** Epoch seconds. */
  created: number;
}

/** One database of `listDatabases()`. */
export interface DatabaseSummary {
  name: string;
  /** Epoch seconds. */
  created: number;
  /** Bytes of its SQLite file (WAL excluded). */
  size: number;
  /** How many tokens are in force. */
  tokens: number;
}

/** What `getDatabase` answers. */
export interface DatabaseInfo {
  name: string;
  created: number;
  size: number;
  tokens: TokenInfo[];
}

interface WireToken {
  name: string;
  token: string;
  token_id: string;
  read_only: boolean;
}

function created(wire: WireToken): CreatedToken {
  return { name: wire.name, token: wire.token, tokenId: wire.token_id, readOnly: wire.read_only };
}

function flag(name: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new TypeError(`${name} must be a boolean, got ${typeof value}`);
  return value;
}

/** The admin client of one hub. Made by `admin()`. */
export class Admin {
  readonly #http: HttpClient;

  constructor(url: string, adminKey: Credential, options: HttpOptions = {}) {
    this.#http = new HttpClient(url, checkCredential("adminKey", adminKey), options);
  }

  /** The hub's base URL (with a trailing slash). */
  get url(): string {
    return this.#http.base;
  }

  /** Create database `name` with a first token (read-only if asked). `DatabaseExists` if the name is taken. */
  async createDatabase(name: string, options: { readOnly?: boolean } = {}): Promise<CreatedDatabase> {
    segment(name);
    const body = { name, read_only: flag("readOnly", options.readOnly ?? false) };
    const wire = await this.#http.request<WireToken & { created: number }>("POST", "_roost/databases", body);
    return { ...created(wire), created: wire.created };
  }

  /** Every database, sorted by name (read from the files: none is woken). */
  async listDatabases(): Promise<DatabaseSummary[]> {
    return (await this.#http.request<{ databases: DatabaseSummary[] }>("GET", "_roost/databases")).databases;
  }

  /** Database `name` and its tokens (`NoSuchDatabase` if there is none). */
  async getDatabase(name: string): Promise<DatabaseInfo> {
    const wire = await this.#http.request<Omit<DatabaseInfo, "tokens"> & { tokens: { token_id: string; read_only: boolean; created: number }[] }>(
      "GET",
      `_roost/databases/${segment(name)}`,
    );
    const tokens = wire.tokens.map((token) => ({ tokenId: token.token_id, readOnly: token.read_only, created: token.created }));
    return { name: wire.name, created: wire.created, size: wire.size, tokens };
  }

  /**
   * Mint a new token of `name` (read-only if asked). `revokeOthers`: revoke every other
   * token at once (a rotation); their ids are in `revoked`.
   */
  async createToken(name: string, options: { readOnly?: boolean; revokeOthers?: boolean } = {}): Promise<RotatedToken> {
    const body = { read_only: flag("readOnly", options.readOnly ?? false), revoke_others: flag("revokeOthers", options.revokeOthers ?? false) };
    const wire = await this.#http.request<WireToken & { revoked: string[] }>("POST", `_roost/databases/${segment(name)}/tokens`, body);
    return { ...created(wire), revoked: wire.revoked };
  }

  /** Revoke token `tokenId` of `name` now: its sockets close with 4401. `not_found` for an unknown id. */
  async revokeToken(name: string, tokenId: string): Promise<void> {
    await this.#http.request("DELETE", `_roost/databases/${segment(name)}/tokens/${segment(tokenId)}`);
  }

  /** Send migrations to database `name` (as `Database.migrate`, with the admin key). */
  async migrate(name: string, migrations: Migrations): Promise<MigrateResult> {
    return this.#http.request<MigrateResult>("POST", `_roost/databases/${segment(name)}/migrate`, migrationsBody(migrations));
  }

  /** Restore database `name` to a point in time (as `Database.restore`, with the admin key). */
  async restoreDatabase(name: string, at: RestorePoint): Promise<Restored> {
    return this.#http.request<Restored>("POST", `_roost/databases/${segment(name)}/restore`, restoreBody(at));
  }

  /** Delete database `name`: its sockets close with 4404 and its file is removed. */
  async deleteDatabase(name: string): Promise<void> {
    await this.#http.request("DELETE", `_roost/databases/${segment(name)}`);
  }
}

/** The admin client of the hub at `url` (`http(s)://host:port`) with its admin key. */
export function admin(url: string, adminKey: Credential, options: HttpOptions = {}): Admin {
  return new Admin(url, adminKey, options);
}
