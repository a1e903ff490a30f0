/**
 * The presence of the connection's object (protocol/SPEC.md §10): the member list and
 * its changes, kept across reconnects. No socket: the connection writes through a
 * `PresencePort` and hands this module the frames it decoded.
 *
 * Rules:
 *
 * 1. `presence_sub` is written on every welcomed socket while the presence is open
 *    (the first time when `Connection.presence` is first read).
 * 2. Every `presence` list replaces the members (in its order, the order they joined)
 *    and is told as the difference: `leave` for those gone, then `join` and `update` in
 *    the list's order, then `sync`. The first list is a difference from nobody, so every
 *    member joins. After a reconnect this is how the app learns who came and went while
 *    it was away (the hub's socket ids are new after a hub restart: SPEC §10.1).
 * 3. `join`, `update` and `leave` frames change one member and are told as such; a
 *    `join` of a member already there is an `update`, an `update` of one missing a
 *    `join`, a `leave` of one missing is ignored, so the members always match what was
 *    told.
 * 4. The presence ends once: `close()` (`presence_unsub`) or the connection's end.
 */

import { encode } from "./codec.js";
import type { Member, PresenceFrame } from "./frames.js";
import { ConnectionClosed, type RoostError } from "./errors.js";
import { type PresenceEventMap, PresenceEvent, PresenceSyncEvent, TypedEventTarget } from "./events.js";

/** What the presence needs from its connection. */
export interface PresencePort {
  /** Write `text` now if the socket is welcomed and open; false otherwise. */
  write(text: string): boolean;
  /** The presence was closed by the app: the next `Connection.presence` is a new one. */
  closed(presence: Presence): void;
}

/** One event of a member list's difference (rule 2). */
export interface PresenceChange {
  readonly type: "join" | "update" | "leave";
  readonly socket: number;
  readonly state: unknown;
}

/** Whether two JSON values are equal (object members in any order). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]));
}

/** How `before` became `after` (rule 2): leaves in `before`'s order, then joins and updates in `after`'s. */
export function presenceDiff(before: ReadonlyMap<number, unknown>, after: readonly Member[]): PresenceChange[] {
  const changes: PresenceChange[] = [];
  const now = new Set(after.map((member) => member.socket));
  for (const [socket, state] of before) {
    if (!now.has(socket)) changes.push({ type: "leave", socket, state });
  }
  for (const { socket, state } of after) {
    if (!before.has(socket)) changes.push({ type: "join", socket, state });
    else if (!sameJson(before.get(socket), state)) changes.push({ type: "update", socket, state });
  }
  return changes;
}

/**
 * Who is in the object's presence (`Connection.presence`): `members` by socket id, in
 * join order, with `join`, `update`, `leave` and `sync` events.
 */
export class Presence extends TypedEventTarget<PresenceEventMap> {
  /** Resolves at the first member list; rejects if the presence ends before. */
  readonly ready: Promise<void>;

  readonly #port: PresencePort;
  #members = new Map<number, unknown>();
  #closed = false;
  /** `presence_sub` went out on the current socket. */
  #asked = false;
  #listed = false;
  #resolve!: () => void;
  #reject!: (error: RoostError) => void;

  /** Made by `Connection.presence`; asks at once if the socket is open (else at `resume`). */
  constructor(port: PresencePort) {
    super();
    this.#port = port;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.ready.catch(() => undefined);
    this.resume();
  }

  /** The members: socket id -> state, in the order they joined. Do not change it. */
  get members(): ReadonlyMap<number, unknown> {
    return this.#members;
  }

  /** Whether the presence ended (`close()`, or the connection's end). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stop the presence frames (`presence_unsub`); the members stay as they were. */
  close(): void {
    if (this.#closed) return;
    if (this.#asked) this.#port.write(encode({ t: "presence_unsub" }));
    this.end(new ConnectionClosed("presence was closed before its first member list"));
    this.#port.closed(this);
  }

  /** @internal A socket was welcomed: ask for the list (rule 1). */
  resume(): void {
    if (this.#closed) return;
    this.#asked = this.#port.write(encode({ t: "presence_sub" }));
  }

  /** @internal The socket closed: the members stay until the next list replaces them. */
  socketClosed(): void {
    this.#asked = false;
  }

  /** @internal A presence frame of the current socket. */
  onFrame(frame: PresenceFrame): void {
    if (this.#closed || !this.#asked) return;
    switch (frame.t) {
      case "presence": {
        const changes = presenceDiff(this.#members, frame.members);
        this.#members = new Map(frame.members.map((member) => [member.socket, member.state]));
        for (const change of changes) this.#tell(change.type, change.socket, change.state);
        this.dispatchEvent(new PresenceSyncEvent(this.#members));
        if (!this.#listed) {
          this.#listed = true;
          this.#resolve();
        }
        return;
      }
      case "join":
      case "update": {
        const known = this.#members.has(frame.socket);
        this.#members.set(frame.socket, frame.state);
        this.#tell(known ? "update" : "join", frame.socket, frame.state);
        return;
      }
      case "leave": {
        if (!this.#members.has(frame.socket)) return;
        const state = this.#members.get(frame.socket);
        this.#members.delete(frame.socket);
        this.#tell("leave", frame.socket, state);
        return;
      }
    }
  }

  /** @internal The end (rule 4): `ready` rejects with `error` if no list came. */
  end(error: RoostError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#asked = false;
    if (!this.#listed) this.#reject(error);
  }

  #tell(type: "join" | "update" | "leave", socket: number, state: unknown): void {
    this.dispatchEvent(new PresenceEvent(type, socket, state));
  }
}
