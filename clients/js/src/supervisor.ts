/**
 * The life of a connection across its sockets: one `Link` at a time, opened, judged when
 * it closes, followed by another after the backoff delay, until the connection ends.
 * `Connection` (`connection.ts`) is the user's face of it; it learns of each socket's
 * events through a `SupervisorPort`.
 *
 * Rules:
 *
 * 1. Everything that changes `state`, the current link, the retry counts and the error
 *    that ended the connection lives here.
 * 2. When a socket closes, `#onClosed` alone decides (with `shouldReconnect`, SPEC §7.3,
 *    and `maxRetries`) whether another one follows; `errorForClose` names the end.
 * 3. The connection ends exactly once, in `#finish()`: `state` becomes `closed`, `ready`
 *    rejects if it has not resolved, and the port settles every waiting promise and ends
 *    the iterators (`SupervisorPort.ended`).
 * 4. After each `welcome`, the port writes what waits (`SupervisorPort.welcomed`) before
 *    `state` becomes `open` and the `open` event is dispatched.
 * 5. The retry count starts over once a socket has stayed welcomed for `minUptime`
 *    (partysocket's rule), so a hub that welcomes and drops at once meets a growing delay.
 * 6. `reconnect()` replaces the socket now: the old one is closed and judged like any
 *    close that reconnects (its calls fail with `connection_lost`, the outbox and the
 *    session stay), and the next one opens without a delay. With `startClosed` the
 *    connection is `idle` until the first `reconnect()`.
 */

import {
  ConnectFailed,
  ConnectionClosed,
  ConnectionLost,
  HandshakeRejected,
  type RoostError,
  errorForClose,
  shouldReconnect,
} from "./errors.js";
import { CloseEvent, type ConnectionState, ErrorEvent, OpenEvent, StateEvent } from "./events.js";
import type { HubFrame } from "./frames.js";
import { Link, type LinkEnd, type LinkListener } from "./link.js";
import { type Settings, redact, socketUrl } from "./options.js";

/** What the supervisor tells its connection. */
export interface SupervisorPort {
  /** The hub welcomed the session on a new socket: write what waits (rule 4). */
  welcomed(): void;
  /** A frame from the hub other than `welcome` and `pong`. */
  frame(frame: HubFrame): void;
  /** A binary message from the object. */
  binary(data: ArrayBuffer): void;
  /** The socket is gone: no subscription request is in force any more. */
  socketClosed(): void;
  /** The socket is gone and the connection had not ended: calls written on it fail with `lost`. */
  lost(lost: ConnectionLost): void;
  /** The connection ended (rule 3): reject what waits with `pending`; iterators end with `error`. */
  ended(error: RoostError | null, pending: RoostError): void;
  /** Dispatch `event` on the connection. */
  dispatch(event: Event): void;
}

/** Opens a connection's sockets one after another, and ends the connection (rules 1-4). */
export class Supervisor {
  /** Resolves at the first `welcome`; rejects with the connection's end if that comes first. */
  readonly ready: Promise<void>;

  #state: ConnectionState;
  #link: Link | null = null;
  /** True from `#open()` until its link exists (the URL is being built). */
  #opening = false;
  /** The link `reconnect()` is replacing: its close opens the next socket at once. */
  #replaced: Link | null = null;
  #uptimeTimer: ReturnType<typeof setTimeout> | null = null;
  #url = "";
  #everOpened = false;
  /** Attempts since a socket last stayed up `minUptime` (each one after a failure or a drop; rule 5). */
  #retries = 0;
  /** Attempts in a row that closed before their welcome. */
  #failures = 0;
  /** The last error frame without id on the current socket (SPEC §7.2 "close"). */
  #closeError: RoostError | null = null;
  #endError: RoostError | null = null;
  #delayTimer: ReturnType<typeof setTimeout> | null = null;
  #closedPromise: Promise<void> | null = null;
  #closedResolve: (() => void) | null = null;
  readonly #ready: { resolve(): void; reject(error: RoostError): void };
  readonly #settings: Settings;
  readonly #port: SupervisorPort;

  constructor(settings: Settings, port: SupervisorPort) {
    this.#settings = settings;
    this.#port = port;
    this.#state = settings.startClosed ? "idle" : "connecting";
    let ready!: { resolve(): void; reject(error: RoostError): void };
    this.ready = new Promise<void>((resolve, reject) => {
      ready = { resolve, reject };
    });
    this.ready.catch(() => undefined);
    this.#ready = ready;
  }

  /** `connecting`, `open`, `reconnecting` or `closed`: see `Connection.state`. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The hub's id of the current socket (from `welcome`), or null. */
  get socketId(): number | null {
    return this.#link?.socketId ?? null;
  }

  /** The URL of the current (or last) socket, query included. */
  get url(): string {
    return this.#url;
  }

  /** Attempts since a socket last stayed up `minUptime`. */
  get retryCount(): number {
    return this.#retries;
  }

  /** Why the connection ended, once `state` is `closed`; null after `close()` or a normal close. */
  get error(): RoostError | null {
    return this.#endError;
  }

  /** Open the first socket, unless `startClosed` (rule 6). */
  start(): void {
    if (!this.#settings.startClosed) void this.#open();
  }

  /**
   * Close the current socket, if any, with `code` and open a new one now (rule 6);
   * `ConnectionClosed` once the connection has ended.
   */
  reconnect(code: number, reason: string): void {
    this.ensureUsable();
    this.#log("reconnect() called");
    this.#retries = 0;
    this.#failures = 0;
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#delayTimer = null;
    const link = this.#link;
    if (link !== null) {
      this.#replaced = link;
      link.drop("replaced by reconnect()", code, reason);
    } else if (!this.#opening) {
      void this.#open();
    }
  }

  /** Write now if the current socket is welcomed and open; false otherwise. */
  write(data: string | ArrayBuffer | ArrayBufferView): boolean {
    const link = this.#link;
    return link !== null && link.writable && link.write(data);
  }

  /** Throw `ConnectionClosed` once the connection has ended. */
  ensureUsable(): void {
    if (this.#state === "closed") throw this.closedError();
  }

  /** A fresh `ConnectionClosed`, caused by the error that ended the connection if any. */
  closedError(): ConnectionClosed {
    const end = this.#endError;
    return new ConnectionClosed(
      `the connection is closed${end === null ? "" : `: ${end.message}`}`,
      end === null ? {} : { closeCode: end.closeCode, cause: end },
    );
  }

  /** An `error` frame without id: about the socket (SPEC §7.2). */
  socketError(error: RoostError): void {
    this.#closeError = error; // errorForClose reports it if the hub closes the socket next
    this.#port.dispatch(new ErrorEvent(error));
    const link = this.#link;
    if (link !== null && !link.welcomed && !error.retryable) {
      // The hub refused our hello and keeps the socket open: trying again cannot help.
      this.#finish(error);
      link.close(1000);
    }
  }

  /** End the connection for good with `code`; see `Connection.close`. */
  close(code: number, reason: string): Promise<void> {
    if (this.#closedPromise !== null) return this.#closedPromise;
    this.#closedPromise = new Promise<void>((resolve) => {
      this.#closedResolve = resolve;
    });
    const link = this.#link;
    if (this.#state === "closed") {
      // Ended already (the hub closed it, or it gave up): at most the socket is closing.
      if (link === null) this.#closedResolve?.();
      return this.#closedPromise;
    }
    this.#finish(null);
    try {
      link?.close(code, reason);
    } catch (error) {
      this.#port.dispatch(new ErrorEvent(new ConnectionClosed(`close(${code}) failed: ${String(error)}`)));
    }
    if (link === null) this.#closedResolve?.();
    return this.#closedPromise;
  }

  // -- sockets ---------------------------------------------------------------------------

  async #open(): Promise<void> {
    this.#setState("connecting");
    this.#closeError = null;
    this.#opening = true;
    let url: string;
    try {
      url = await socketUrl(this.#settings);
    } catch (error) {
      this.#opening = false;
      if (this.#state !== "closed") this.#finish(new ConnectionClosed(`could not build the URL: ${String(error)}`, { cause: error }));
      return;
    }
    this.#opening = false;
    if (this.#state === "closed") return;
    this.#url = url;
    const { WebSocket, session, times, log } = this.#settings;
    this.#log("connecting to", redact(url));
    try {
      this.#link = new Link(WebSocket, url, session, times, this.#listener, log);
    } catch (error) {
      this.#finish(new ConnectionClosed(`could not open a WebSocket: ${String(error)}`, { cause: error }));
    }
  }

  readonly #listener: LinkListener = {
    welcome: (socket) => this.#onWelcome(socket),
    frame: (frame) => this.#port.frame(frame),
    binary: (data) => this.#port.binary(data),
    invalid: (error) => this.#port.dispatch(new ErrorEvent(error)),
    rejected: (error: HandshakeRejected) => this.#finish(error),
    closed: (end) => this.#onClosed(end),
  };

  #onWelcome(socket: number): void {
    this.#log("open: socket", socket);
    this.#failures = 0;
    const { minUptime } = this.#settings;
    if (minUptime === 0) this.#retries = 0;
    else {
      this.#uptimeTimer = setTimeout(() => {
        this.#uptimeTimer = null;
        this.#retries = 0; // rule 5
      }, minUptime);
    }
    this.#port.welcomed(); // rule 4
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#setState("open");
    this.#ready.resolve();
    this.#port.dispatch(new OpenEvent(socket, reconnected));
  }

  #onClosed(end: LinkEnd): void {
    const { code, reason, wasClean, welcomed } = end;
    this.#link = null;
    this.#clearUptime();
    const why = reason || end.detail;
    this.#log("closed:", code, ...(why ? [why] : []));
    this.#port.socketClosed();
    if (this.#state === "closed") {
      this.#closedResolve?.();
      this.#port.dispatch(new CloseEvent(code, reason, wasClean, false));
      return;
    }
    const what = end.detail || `closed with ${code}${reason ? ` (${reason})` : ""}`;
    const cause = this.#closeError === null ? {} : { cause: this.#closeError };
    const lost = new ConnectionLost(`connection lost: ${what}`, { closeCode: code, reason, ...cause });
    this.#port.lost(lost);
    if (this.#replaced !== null) {
      // Rule 6: reconnect() closed it; the next socket opens now.
      this.#replaced = null;
      this.#port.dispatch(new CloseEvent(code, reason, wasClean, true));
      void this.#open();
      return;
    }
    if (!welcomed) this.#failures += 1;
    let retry: boolean;
    let error: RoostError | null;
    if (!welcomed && end.status !== null) {
      error = new HandshakeRejected(`the hub refused the WebSocket upgrade with HTTP ${end.status}`, end.status, { closeCode: code });
      retry = error.retryable;
    } else if (shouldReconnect(code)) {
      error = welcomed ? lost : new ConnectFailed(`could not connect: ${what}`, { closeCode: code });
      retry = true;
    } else {
      error = errorForClose(code, reason, this.#closeError);
      retry = false;
    }
    if (retry && this.#retries >= this.#settings.maxRetries) {
      retry = false;
      if (!welcomed) {
        const attempts = `${this.#failures} failed attempt${this.#failures === 1 ? "" : "s"}`;
        error = new ConnectFailed(`gave up after ${attempts}: ${error?.message ?? what}`, { closeCode: code, cause: error });
      }
    }
    if (!retry) {
      this.#log("not reconnecting:", error?.code ?? "closed");
      this.#finish(error, error ?? new ConnectionClosed(`the hub closed the connection: ${what}`, { closeCode: code, reason }));
      this.#port.dispatch(new CloseEvent(code, reason, wasClean, false));
      return;
    }
    this.#retries += 1;
    const delay = this.#settings.backoff.delay(this.#retries);
    this.#log(`reconnecting in ${Math.round(delay)} ms (retry ${this.#retries})`);
    this.#setState("reconnecting");
    this.#port.dispatch(new CloseEvent(code, reason, wasClean, true));
    if (this.#state !== "reconnecting") return; // a listener closed the connection
    this.#delayTimer = setTimeout(() => {
      this.#delayTimer = null;
      void this.#open();
    }, delay);
  }

  // -- the end ---------------------------------------------------------------------------

  /**
   * End the connection (once; rule 3). `error` is why (null: `close()`, or the object
   * closed it normally); `pending` is what everything still waiting is rejected with. A
   * socket still open is left to whoever ends it; its close is reported when it comes.
   */
  #finish(
    error: RoostError | null,
    pending: RoostError = error ?? new ConnectionClosed("the connection was closed by the client"),
  ): void {
    if (this.#state === "closed") return;
    this.#endError = error;
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer);
    this.#delayTimer = null;
    this.#clearUptime();
    this.#setState("closed");
    this.#ready.reject(pending);
    this.#port.ended(error, pending);
    if (error !== null) this.#port.dispatch(new ErrorEvent(error));
  }

  #clearUptime(): void {
    if (this.#uptimeTimer !== null) clearTimeout(this.#uptimeTimer);
    this.#uptimeTimer = null;
  }

  #log(...args: unknown[]): void {
    this.#settings.log?.("roost:", ...args);
  }

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#port.dispatch(new StateEvent(state, previous));
  }
}
