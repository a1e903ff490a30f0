/**
 * Where a connection goes: the object URL from partysocket-style options (`host`,
 * `party`/`binding`, `room`/`name`, `query`) or from a full `url`. Pure.
 *
 * Rules:
 *
 * 1. An object lives at `/{prefix}/{binding}/{name}`: `prefix` is `objects` (or
 *    `parties`, PartyKit's), the binding is kebab-case (`CHAT_ROOM` -> `chat-room`) and
 *    the name is one percent-encoded path segment, so any string can be a name.
 * 2. `ws` for local and private hosts, `wss` otherwise, unless `protocol` says; the same
 *    rule as partysocket.
 * 3. Query parameters whose value is null or undefined are left out.
 */

/** Query parameters; null and undefined values are left out. */
export type QueryParams = Record<string, string | null | undefined>;

/** The options that say where to connect. */
export interface AddressOptions {
  /** A full `ws(s)://` (or `http(s)://`) URL of the object; instead of host/party/room. */
  url?: string;
  /** `host[:port]` of the hub, optionally with a scheme. */
  host?: string;
  /** `ws` or `wss`; by default `ws` for localhost and private addresses, else `wss`. */
  protocol?: "ws" | "wss";
  /** First path segment: `objects` (default) or PartyKit's `parties`. */
  prefix?: string;
  /** The object's binding (`CHAT_ROOM` or `chat-room`); partysocket's name: `party`. */
  binding?: string;
  /** partysocket's name for `binding`. Default `main`, as in partysocket. */
  party?: string;
  /** The object's name (any string); partysocket's name: `room`. */
  name?: string;
  /** partysocket's name for `name`. */
  room?: string;
  /** More path after the object (no leading slash), seen by the object's `fetch`. */
  path?: string;
}

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** `CHAT_ROOM` -> `chat-room`; a kebab-case binding is returned unchanged. */
export function kebab(binding: string): string {
  const segment = binding.toLowerCase().replaceAll("_", "-");
  if (!KEBAB.test(segment)) {
    throw new TypeError(
      `binding must be UPPER_SNAKE_CASE or kebab-case letters and digits, got ${JSON.stringify(binding)}`,
    );
  }
  return segment;
}

function isLocal(host: string): boolean {
  if (/^(localhost|127\.0\.0\.1|\[::1\]|\[::ffff:7f00:1\])(:|$)/.test(host)) return true;
  if (host.startsWith("192.168.") || host.startsWith("10.")) return true;
  const match = /^172\.(\d+)\./.exec(host);
  return match !== null && Number(match[1]) >= 16 && Number(match[1]) <= 31;
}

/** The object's URL without query parameters. */
export function objectUrl(options: AddressOptions): string {
  if (options.url !== undefined) {
    const url = new URL(options.url);
    if (url.protocol === "http:") url.protocol = "ws:";
    else if (url.protocol === "https:") url.protocol = "wss:";
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw new TypeError(`url must be ws:, wss:, http: or https:, got ${JSON.stringify(options.url)}`);
    }
    return url.href;
  }
  if (options.host === undefined || options.host === "") {
    throw new TypeError("either url or host must be given");
  }
  const name = options.name ?? options.room;
  if (name === undefined || name === "") {
    throw new TypeError("the object's name (name or room) must be given and not empty");
  }
  const scheme = /^(https?|wss?):\/\//.exec(options.host);
  let host = options.host.slice(scheme === null ? 0 : scheme[0].length);
  if (host.endsWith("/")) host = host.slice(0, -1);
  let protocol = options.protocol;
  if (protocol === undefined && scheme !== null) {
    protocol = scheme[1] === "https" || scheme[1] === "wss" ? "wss" : "ws";
  }
  protocol ??= isLocal(host) ? "ws" : "wss";
  if (options.path?.startsWith("/")) throw new TypeError("path must not start with a slash");
  const prefix = options.prefix ?? "objects";
  const binding = kebab(options.binding ?? options.party ?? "main");
  const path = options.path ? `/${options.path}` : "";
  return `${protocol}://${host}/${prefix}/${binding}/${encodeURIComponent(name)}${path}`;
}

/** `url` with `params` added to its query (existing parameters kept). */
export function withQuery(url: string, params: QueryParams): string {
  const parsed = new URL(url);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) parsed.searchParams.append(key, value);
  }
  return parsed.href;
}
