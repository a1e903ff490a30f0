/**
 * JSON over HTTP to a hub (the database data and admin APIs, docs/databases.md), with the
 * global `fetch`: a bearer credential, JSON bodies, and the hub's error bodies turned
 * into the SDK's error classes.
 *
 * Rules:
 *
 * 1. An error body `{"error": {"code", "message", "retryable"}}` becomes the class of its
 *    code through `fromFrame`, the one place a hub error becomes an exception, so HTTP
 *    and `error` frames give the same classes (`error.remote` true, `error.id` null).
 * 2. An answer that is not the hub's (a proxy's 502 page, a 2xx that is not a JSON
 *    object) is a `RoostError` with code `http_<status>`, retryable for 5xx (as the
 *    Python SDK).
 * 3. `fetch` failing (no connection) is `ConnectFailed` (retryable), a timeout
 *    `CallTimeout`, an aborted signal `CallAborted`; each keeps the original as `cause`.
 * 4. A credential given as a function is called before every request (fresh tokens).
 */

import { CallAborted, CallTimeout, ConnectFailed, RoostError, fromFrame } from "./errors.js";

/** A token or key, or a function giving one (called before every request). */
export type Credential = string | (() => string | Promise<string>);

/** A `fetch` function: the global one by default. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** What HTTP calls to a hub are made with. */
export interface HttpOptions {
  /** The `fetch` to use (default: `globalThis.fetch`). */
  fetch?: FetchLike;
  /** Reject with `CallTimeout` after this many ms; 0: none. Default 30000 (as the Python SDK). */
  timeout?: number;
}

/** The hub's base URL (`http(s)://host[:port][/path]`; `ws(s)` accepted) with a trailing slash. */
export function baseUrl(url: string): string {
  if (typeof url !== "string") throw new TypeError(`url must be a string, got ${typeof url}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`url must be an absolute http(s) URL of the hub, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol === "ws:") parsed.protocol = "http:";
  else if (parsed.protocol === "wss:") parsed.protocol = "https:";
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`url must be an http(s) URL of the hub, got ${JSON.stringify(url)}`);
  }
  parsed.search = "";
  parsed.hash = "";
  if (!parsed.pathname.endsWith("/")) parsed.pathname += "/";
  return parsed.href;
}

/** Check a credential option: a non-empty string or a function. */
export function checkCredential(name: string, value: unknown): Credential {
  if ((typeof value === "string" && value !== "") || typeof value === "function") return value as Credential;
  throw new TypeError(`${name} must be a non-empty string or a function returning one, got ${typeof value}`);
}

function hubError(body: unknown): { code: string; message: string; retryable: boolean } | null {
  if (typeof body !== "object" || body === null) return null;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return null;
  const { code, message, retryable } = error as Record<string, unknown>;
  if (typeof code !== "string" || typeof message !== "string") return null;
  return { code, message, retryable: retryable === true };
}

/** The error of a non-2xx answer (rules 1 and 2). */
export function errorOfAnswer(status: number, text: string, what: string): RoostError {
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: rule 2
  }
  const error = hubError(body);
  if (error !== null) return fromFrame({ t: "error", id: null, ...error });
  return unexpected(status, text, what);
}

function unexpected(status: number, text: string, what: string, cause?: unknown): RoostError {
  const snippet = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  const init = { remote: true, retryable: status >= 500, cause };
  return new RoostError(`http_${status}`, `${what}: unexpected HTTP answer ${status} ${JSON.stringify(snippet)}`, init);
}

/** JSON requests to one hub with one credential. */
export class HttpClient {
  /** The hub's base URL, with a trailing slash. */
  readonly base: string;
  readonly #credential: Credential;
  readonly #fetch: FetchLike;
  readonly #timeout: number;

  constructor(url: string, credential: Credential, options: HttpOptions = {}) {
    this.base = baseUrl(url);
    this.#credential = credential;
    if (options.fetch === undefined && typeof globalThis.fetch !== "function") {
      throw new TypeError("no fetch: pass options.fetch where there is no global fetch");
    }
    // Browsers refuse a `fetch` called as a method of another object ("Illegal invocation").
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const timeout = options.timeout ?? 30_000;
    if (typeof timeout !== "number" || !(timeout >= 0)) throw new RangeError(`timeout must be a non-negative number, got ${String(timeout)}`);
    this.#timeout = timeout;
  }

  /**
   * `method` `path` (relative to the base, already encoded) with `body` as JSON (none for
   * GET and DELETE when undefined); resolves with the answer's JSON object, rejects by the
   * rules above.
   */
  async request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.base).href;
    const what = `${method} ${url}`;
    const credential = typeof this.#credential === "function" ? await this.#credential() : this.#credential;
    const headers: Record<string, string> = { authorization: `Bearer ${credential}`, accept: "application/json" };
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (this.#timeout > 0) init.signal = AbortSignal.timeout(this.#timeout);
    let text: string;
    let status: number;
    try {
      const response = await this.#fetch(url, init);
      status = response.status;
      text = await response.text();
    } catch (error) {
      const name = (error as { name?: unknown } | null)?.name;
      if (name === "TimeoutError") throw new CallTimeout(`${what}: no answer within ${this.#timeout} ms`, { cause: error });
      if (name === "AbortError") throw new CallAborted(`${what} was aborted`, { cause: error });
      throw new ConnectFailed(`${what} failed: ${String((error as Error | null)?.message ?? error)}`, { cause: error });
    }
    if (status < 200 || status > 299) throw errorOfAnswer(status, text, what);
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch (error) {
      throw unexpected(status, text, what, error);
    }
    if (typeof answer !== "object" || answer === null || Array.isArray(answer)) throw unexpected(status, text, what);
    return answer as T;
  }
}

/** One path segment: `name` percent-encoded (any string can be a database name). */
export function segment(name: string): string {
  if (typeof name !== "string" || name === "") throw new TypeError(`name must be a non-empty string, got ${JSON.stringify(name)}`);
  return encodeURIComponent(name);
}
