/**
 * One socket of a connection, from its opening to its close: the roost.v1 handshake
 * (`hello` / `welcome`), frame decoding, keep-alive. It decides nothing about
 * reconnecting or about what waits for the hub: it tells its `LinkListener`.
 *
 * Rules:
 *
 * 1. `hello` is the first frame written (SPEC §3.1); nothing else is written by the link.
 * 2. Every event of the socket reaches the listener at most once, and nothing after
 *    `closed`, which comes exactly once: from the socket's close event, or from `drop()`.
 * 3. A text frame that breaks the SPEC is reported (`invalid`) and skipped; the socket
 *    stays (the hub's fault, not a reason to lose the session).
 * 4. No `welcome` within `connectionTimeout`, or nothing back within `pingTimeout` of a
 *    `ping`: the link drops the socket as if the network had (code 1006).
 */

import { decodeHub, encode } from "./codec.js";
import { type HubFrame, SUBPROTOCOL } from "./frames.js";
import { BadFrame, HandshakeRejected } from "./errors.js";
import type { DebugLogger, WebSocketConstructor, WebSocketLike } from "./options.js";

/** How a socket ended, for the connection to judge (SPEC §7.3). */
export interface LinkEnd {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** Whether the hub welcomed the session on this socket. */
  readonly welcomed: boolean;
  /** What the platform or the link said about the failure, if anything. */
  readonly detail: string;
  /** The HTTP status of a refused upgrade, when the platform tells (the ws package does). */
  readonly status: number | null;
}

/** What a link tells its connection. */
export interface LinkListener {
  /** The hub welcomed the session: frames may be written. */
  welcome(socket: number, session: string): void;
  /** A frame from the hub other than `welcome` and `pong`. */
  frame(frame: HubFrame): void;
  /** A binary message from the object. */
  binary(data: ArrayBuffer): void;
  /** Something the hub sent breaks the SPEC; it was skipped. */
  invalid(error: BadFrame): void;
  /** The hub accepted the upgrade without `roost.v1`; the link is closing the socket. */
  rejected(error: HandshakeRejected): void;
  /** The socket is gone; nothing follows. */
  closed(end: LinkEnd): void;
}

/** Timing of one link (ms). */
export interface LinkTimes {
  readonly connectionTimeout: number;
  readonly pingInterval: number;
  readonly pingTimeout: number;
}

const OPEN = 1;

/** The ws package reports a refused upgrade as `Unexpected server response: 404`. */
const REFUSED_UPGRADE = /^Unexpected server response: (\d{3})$/;

function absorb(): void {}

/** One WebSocket speaking roost.v1. */
export class Link {
  readonly #socket: WebSocketLike;
  readonly #session: string;
  readonly #times: LinkTimes;
  readonly #listener: LinkListener;
  readonly #log: DebugLogger | null;
  #welcomed = false;
  #socketId: number | null = null;
  #ended = false;
  #detail = "";
  #status: number | null = null;
  #connectTimer: ReturnType<typeof setTimeout> | null = null;
  #pingTimer: ReturnType<typeof setTimeout> | null = null;
  #pongTimer: ReturnType<typeof setTimeout> | null = null;

  /**
   * Open a socket to `url` offering roost.v1; throws what the WebSocket class throws.
   * `log` (the `debug` option) gets each frame's type and id, never its content.
   */
  constructor(
    WebSocket: WebSocketConstructor,
    url: string,
    session: string,
    times: LinkTimes,
    listener: LinkListener,
    log: DebugLogger | null = null,
  ) {
    this.#session = session;
    this.#times = times;
    this.#listener = listener;
    this.#log = log;
    const socket = new WebSocket(url, [SUBPROTOCOL]);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", this.#onOpen);
    socket.addEventListener("message", this.#onMessage);
    socket.addEventListener("error", this.#onError);
    socket.addEventListener("close", this.#onClose);
    this.#socket = socket;
    this.#connectTimer = setTimeout(() => {
      this.#connectTimer = null;
      this.drop(`no welcome from the hub within ${times.connectionTimeout} ms`);
    }, times.connectionTimeout);
  }

  /** Whether the hub welcomed the session on this socket. */
  get welcomed(): boolean {
    return this.#welcomed;
  }

  /** The hub's id of the socket, from `welcome`. */
  get socketId(): number | null {
    return this.#socketId;
  }

  /** Whether frames may be written now: welcomed, and the socket open. */
  get writable(): boolean {
    return this.#welcomed && !this.#ended && this.#socket.readyState === OPEN;
  }

  /** Write one frame (text) or binary message; false if the socket cannot take it. */
  write(data: string | ArrayBuffer | ArrayBufferView): boolean {
    if (this.#ended || this.#socket.readyState !== OPEN) return false;
    try {
      this.#socket.send(data);
    } catch {
      return false;
    }
    if (this.#log !== null) this.#log("roost: ->", typeof data === "string" ? summary(JSON.parse(data)) : "binary");
    return true;
  }

  /** Start the closing handshake; `closed` follows when it is done. */
  close(code?: number, reason?: string): void {
    this.#stopTimers();
    try {
      this.#socket.close(code, reason);
    } catch (error) {
      this.#socket.close(); // an invalid code or reason: close normally instead
      throw error;
    }
  }

  /**
   * Give up on the socket now, without waiting for the closing handshake: as if the
   * network dropped it (1006), or, with `code`, as if it closed with that code
   * (`reconnect()`). The socket is closed with `code` (default 4000).
   */
  drop(detail: string, code?: number, reason = code === undefined ? "dropped by the client" : ""): void {
    if (this.#ended) return;
    this.#detail = detail;
    this.#end({ code: code ?? 1006, reason, wasClean: code !== undefined });
    try {
      this.#socket.close(code ?? 4000, reason);
    } catch {
      // A socket still connecting may refuse; it is gone either way.
    }
  }

  readonly #onOpen = (): void => {
    if (this.#socket.protocol !== SUBPROTOCOL) {
      // SPEC §1.1: not a Roost hub, or one without roost.v1; trying again cannot help.
      this.#listener.rejected(
        new HandshakeRejected(
          `the hub did not select the subprotocol ${SUBPROTOCOL} (got ${JSON.stringify(this.#socket.protocol)})`,
          null,
        ),
      );
      this.close(1002);
      return;
    }
    this.write(encode({ t: "hello", session: this.#session }));
  };

  readonly #onMessage = (event: { data: unknown }): void => {
    if (this.#ended) return;
    this.#alive();
    const data = event.data;
    if (typeof data !== "string") {
      this.#log?.("roost: <-", "binary");
      this.#listener.binary(data instanceof ArrayBuffer ? data : toArrayBuffer(data));
      return;
    }
    let frame: HubFrame;
    try {
      frame = decodeHub(data);
    } catch (error) {
      if (!(error instanceof BadFrame)) throw error;
      this.#listener.invalid(new BadFrame(`the hub sent an invalid frame: ${error.message}`));
      return;
    }
    this.#log?.("roost: <-", summary(frame));
    if (frame.t === "welcome") this.#onWelcome(frame.socket, frame.session);
    else if (frame.t !== "pong") this.#listener.frame(frame);
  };

  readonly #onError = (event: { message?: unknown; error?: unknown }): void => {
    // The close event follows; keep what the platform said (browsers say nothing).
    const detail = event.message ?? (event.error instanceof Error ? event.error.message : undefined);
    if (typeof detail !== "string" || detail === "") return;
    this.#detail = detail;
    const refused = REFUSED_UPGRADE.exec(detail);
    if (refused !== null) this.#status = Number(refused[1]);
  };

  readonly #onClose = (event: { code?: number; reason?: string; wasClean?: boolean }): void => {
    this.#end({ code: event.code ?? 1006, reason: event.reason ?? "", wasClean: event.wasClean ?? false });
  };

  #onWelcome(socket: number, session: string): void {
    if (this.#welcomed) {
      this.#listener.invalid(new BadFrame("the hub sent a second welcome on one socket"));
      return;
    }
    if (session !== this.#session) {
      const got = `${JSON.stringify(session)}, expected ${JSON.stringify(this.#session)}`;
      this.#listener.invalid(new BadFrame(`the hub welcomed session ${got}`));
    }
    this.#welcomed = true;
    this.#socketId = socket;
    this.#clear("connect");
    this.#schedulePing();
    this.#listener.welcome(socket, session);
  }

  #end(close: { code: number; reason: string; wasClean: boolean }): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopTimers();
    const socket = this.#socket;
    socket.removeEventListener("open", this.#onOpen);
    socket.removeEventListener("message", this.#onMessage);
    socket.removeEventListener("error", this.#onError);
    socket.removeEventListener("close", this.#onClose);
    // The ws package throws an "error" event nobody listens to: absorb late ones.
    socket.addEventListener("error", absorb);
    this.#listener.closed({ ...close, welcomed: this.#welcomed, detail: this.#detail, status: this.#status });
  }

  // -- keep-alive (SPEC §8) --------------------------------------------------------------

  #schedulePing(): void {
    const { pingInterval, pingTimeout } = this.#times;
    if (pingInterval === 0 || this.#ended) return;
    this.#clear("ping");
    this.#pingTimer = setTimeout(() => {
      this.#pingTimer = null;
      if (!this.write(encode({ t: "ping" }))) return;
      this.#pongTimer = setTimeout(() => {
        this.#pongTimer = null;
        this.drop(`no answer to ping within ${pingTimeout} ms`);
      }, pingTimeout);
    }, pingInterval);
  }

  /** Something arrived: the socket lives; the next ping is due an interval from now. */
  #alive(): void {
    if (this.#pongTimer === null) return;
    this.#clear("pong");
    this.#schedulePing();
  }

  #clear(which: "connect" | "ping" | "pong"): void {
    const timer = which === "connect" ? this.#connectTimer : which === "ping" ? this.#pingTimer : this.#pongTimer;
    if (timer !== null) clearTimeout(timer);
    if (which === "connect") this.#connectTimer = null;
    else if (which === "ping") this.#pingTimer = null;
    else this.#pongTimer = null;
  }

  #stopTimers(): void {
    this.#clear("connect");
    this.#clear("ping");
    this.#clear("pong");
  }
}

/** A frame's type and id, for the debug log: never its data, token or result. */
function summary(frame: { t?: unknown; id?: unknown }): string {
  return typeof frame.id === "number" ? `${String(frame.t)} ${frame.id}` : String(frame.t);
}

function toArrayBuffer(data: unknown): ArrayBuffer {
  if (ArrayBuffer.isView(data)) {
    const copy = new Uint8Array(data.byteLength);
    copy.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return copy.buffer;
  }
  if (Array.isArray(data)) {
    // The ws package may deliver a binary message as a list of Buffers.
    const parts = data as Uint8Array[];
    const copy = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
    let offset = 0;
    for (const part of parts) {
      copy.set(part, offset);
      offset += part.byteLength;
    }
    return copy.buffer;
  }
  throw new TypeError(`unexpected binary message type: ${Object.prototype.toString.call(data)}`);
}
