/**
 * A fake WebSocket class at the seam the SDK takes (`options.WebSocket`): the test opens,
 * feeds, and drops sockets by hand and reads what the client wrote.
 */

import { type ClientFrame, type ConnectOptions, Connection, type HubFrame, decodeClient, encode } from "../src/index.js";

type Sent = string | ArrayBuffer | ArrayBufferView;

export class FakeWebSocket extends EventTarget {
  /** Every socket created, oldest first. */
  static instances: FakeWebSocket[] = [];

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  /** The newest socket. */
  static get last(): FakeWebSocket {
    const socket = FakeWebSocket.instances.at(-1);
    if (socket === undefined) throw new Error("no socket was created");
    return socket;
  }

  readonly url: string;
  readonly protocols: string | string[] | undefined;
  readyState = 0;
  protocol = "";
  binaryType = "blob";
  /** What the client wrote, in order. */
  readonly sent: Sent[] = [];
  /** The code and reason of the client's `close()`, if it called it. */
  closedWith: { code: number | undefined; reason: string | undefined } | null = null;

  constructor(url: string, protocols?: string | string[]) {
    super();
    this.url = url;
    this.protocols = protocols;
    FakeWebSocket.instances.push(this);
  }

  // -- the client's side -----------------------------------------------------------------

  send(data: Sent): void {
    if (this.readyState !== 1) throw new Error(`send on a socket in state ${this.readyState}`);
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.closedWith = { code, reason };
    this.readyState = 2;
    // A real socket reports the end of the closing handshake later.
    queueMicrotask(() => this.finish(code ?? 1005, reason ?? "", true));
  }

  // -- the test's side (the hub) ---------------------------------------------------------

  /** The handshake succeeded; the hub selected `protocol`. */
  accept(protocol = "roost.v1"): this {
    this.readyState = 1;
    this.protocol = protocol;
    this.dispatchEvent(new Event("open"));
    return this;
  }

  /** Accept and answer the client's hello. */
  welcome(socket = 1): this {
    if (this.readyState === 0) this.accept();
    const hello = this.frames()[0];
    if (hello?.t !== "hello") throw new Error(`first frame is not hello: ${JSON.stringify(hello)}`);
    return this.receive({ t: "welcome", session: hello.session, socket });
  }

  /** The hub sends a frame (an object is encoded), raw text, or binary data. */
  receive(frame: HubFrame | string | ArrayBuffer): this {
    const data = typeof frame === "string" || frame instanceof ArrayBuffer ? frame : encode(frame);
    this.dispatchEvent(Object.assign(new Event("message"), { data }));
    return this;
  }

  /** The connection ends without the client asking (hub close or TCP drop). */
  drop(code = 1006, reason = ""): void {
    this.finish(code, reason, code !== 1006);
  }

  /** The handshake failed (connection refused, HTTP 404...). */
  refuse(): void {
    this.dispatchEvent(Object.assign(new Event("error"), { message: "connect ECONNREFUSED" }));
    this.finish(1006, "", false);
  }

  /** The hub answered the upgrade with an HTTP status (as the ws package reports it). */
  rejectUpgrade(status: number): void {
    this.dispatchEvent(Object.assign(new Event("error"), { message: `Unexpected server response: ${status}` }));
    this.finish(1006, "", false);
  }

  /** The client's text frames, decoded (SPEC checks included). */
  frames(): ClientFrame[] {
    return this.sent.filter((data): data is string => typeof data === "string").map(decodeClient);
  }

  private finish(code: number, reason: string, wasClean: boolean): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason, wasClean }));
  }
}

// -- helpers of the tests that drive a `Connection` over fake sockets ---------------------

/** Options for a connection over `FakeWebSocket`: fixed backoff (100 ms doubling to 1 s, no jitter), no pings. */
export const FAKE_OPTIONS: ConnectOptions = {
  host: "127.0.0.1:8787",
  party: "room",
  room: "r",
  WebSocket: FakeWebSocket,
  minReconnectionDelay: 100,
  maxReconnectionDelay: 1000,
  reconnectionDelayGrowFactor: 2,
  reconnectionDelayJitter: 0,
  pingInterval: 0,
};

/** Let promise callbacks and microtasks run (setImmediate is not faked). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A connection made with `options` over `base`, once its first socket exists. */
export async function openFake(options: Partial<ConnectOptions> = {}, base: ConnectOptions = FAKE_OPTIONS): Promise<Connection> {
  const connection = new Connection({ ...base, ...options });
  await settle();
  return connection;
}

/** Whether `promise` has settled, and how, without waiting for it. */
export function peek<T>(promise: Promise<T>): { state: "pending" | "resolved" | "rejected"; value?: T; error?: unknown } {
  const seen: { state: "pending" | "resolved" | "rejected"; value?: T; error?: unknown } = { state: "pending" };
  promise.then(
    (value) => Object.assign(seen, { state: "resolved", value }),
    (error: unknown) => Object.assign(seen, { state: "rejected", error }),
  );
  return seen;
}
