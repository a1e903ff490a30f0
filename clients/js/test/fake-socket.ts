/**
 * A fake WebSocket class at the seam the SDK takes (`options.WebSocket`): the test opens,
 * feeds, and drops sockets by hand and reads what the client wrote.
 */

import { decodeClient, type ClientFrame, type HubFrame, encode } from "../src/index.js";

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
