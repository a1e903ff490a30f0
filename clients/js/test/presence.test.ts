/**
 * Presence (src/presence.ts) fed with decoded hub frames through a fake port: the member
 * list, its difference after a reconnect, the events, the end.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  type ClientFrame,
  ConnectionClosed,
  Presence,
  type PresenceEvent,
  decodeClient,
  decodeHub,
  presenceDiff,
  sameJson,
} from "../src/index.js";
import type { PresencePort } from "../src/presence.js";

class Port implements PresencePort {
  written: ClientFrame[] = [];
  open = true;
  closedWith: Presence | null = null;

  write(text: string): boolean {
    if (!this.open) return false;
    this.written.push(decodeClient(text));
    return true;
  }

  closed(presence: Presence): void {
    this.closedWith = presence;
  }

  take(): ClientFrame[] {
    return this.written.splice(0);
  }
}

function rig(open = true): { port: Port; presence: Presence; seen: string[]; hub(json: string): void } {
  const port = new Port();
  port.open = open;
  const presence = new Presence(port);
  const seen: string[] = [];
  const tell = (event: PresenceEvent): void => {
    // The detail (CustomEvent style) and the event's own members say the same.
    assert.deepEqual(event.detail, { socket: event.socket, state: event.state });
    seen.push(`${event.type}:${event.socket}:${JSON.stringify(event.state)}`);
  };
  presence.on("join", tell);
  presence.on("update", tell);
  presence.on("leave", tell);
  presence.on("sync", (event) => seen.push(`sync:${[...event.detail.members.keys()].join(",")}`));
  const hub = (json: string): void => {
    const frame = decodeHub(json);
    assert.ok(frame.t === "presence" || frame.t === "join" || frame.t === "update" || frame.t === "leave", json);
    presence.onFrame(frame);
  };
  return { port, presence, seen, hub };
}

function list(...members: [number, unknown][]): string {
  return JSON.stringify({ t: "presence", members: members.map(([socket, state]) => ({ socket, state })) });
}

test("presenceDiff: leaves in the old order, then joins and updates in the new one", () => {
  const before = new Map<number, unknown>([
    [1, "a"],
    [2, { name: "b", typing: false }],
    [3, "c"],
  ]);
  const after = [
    { socket: 4, state: "d" },
    { socket: 2, state: { typing: false, name: "b" } },
    { socket: 3, state: "c2" },
  ];
  assert.deepEqual(presenceDiff(before, after), [
    { type: "leave", socket: 1, state: "a" },
    { type: "join", socket: 4, state: "d" },
    { type: "update", socket: 3, state: "c2" },
  ]);
  assert.deepEqual(presenceDiff(new Map(), after).map((change) => change.type), ["join", "join", "join"]);
  assert.deepEqual(presenceDiff(before, []).map((change) => change.socket), [1, 2, 3]);
});

test("sameJson: members in any order, arrays in order, no coercion", () => {
  assert.ok(sameJson({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 }));
  assert.ok(!sameJson([1, 2], [2, 1]));
  assert.ok(!sameJson({ a: 1 }, { a: 1, b: 1 }));
  assert.ok(!sameJson({ a: undefined }, { b: undefined }));
  assert.ok(!sameJson(1, "1"));
  assert.ok(!sameJson([], {}));
  assert.ok(!sameJson(null, {}));
});

describe("Presence", () => {
  test("asks at once; the first list: every member joins, then sync, then ready", async () => {
    const { port, presence, seen, hub } = rig();
    assert.deepEqual(port.take(), [{ t: "presence_sub" }]);
    let ready = false;
    void presence.ready.then(() => (ready = true));
    hub(list([3, { name: "ada" }], [7, "bob"]));
    await presence.ready;
    assert.ok(ready);
    assert.deepEqual(seen, ['join:3:{"name":"ada"}', 'join:7:"bob"', "sync:3,7"]);
    assert.deepEqual([...presence.members], [
      [3, { name: "ada" }],
      [7, "bob"],
    ]);
  });

  test("join, update, leave frames change one member each, in join order", () => {
    const { presence, seen, hub } = rig();
    hub(list([3, "a"]));
    seen.length = 0;
    hub('{"t":"join","socket":9,"state":{"typing":false}}');
    hub('{"t":"update","socket":3,"state":"a2"}');
    hub('{"t":"leave","socket":9}');
    hub('{"t":"join","socket":10,"state":1}');
    assert.deepEqual(seen, ['join:9:{"typing":false}', 'update:3:"a2"', 'leave:9:{"typing":false}', "join:10:1"]);
    assert.deepEqual([...presence.members.keys()], [3, 10]);
  });

  test("frames that do not fit the list still leave it consistent", () => {
    const { presence, seen, hub } = rig();
    hub(list([3, "a"]));
    seen.length = 0;
    hub('{"t":"join","socket":3,"state":"again"}');
    hub('{"t":"update","socket":5,"state":"new"}');
    hub('{"t":"leave","socket":99}');
    assert.deepEqual(seen, ['update:3:"again"', 'join:5:"new"']);
    assert.deepEqual([...presence.members], [
      [3, "again"],
      [5, "new"],
    ]);
  });

  test("after a reconnect the new list replaces the old one, told as its difference", () => {
    const { port, presence, seen, hub } = rig();
    hub(list([1, "me"], [2, "bob"], [3, "cy"]));
    port.take();
    seen.length = 0;
    port.open = false;
    presence.socketClosed();
    hub('{"t":"leave","socket":2}'); // not asked on this socket: ignored
    assert.equal(presence.members.size, 3, "the members stay until the next list");
    port.open = true;
    presence.resume();
    assert.deepEqual(port.take(), [{ t: "presence_sub" }]);
    hub(list([3, "cy typing"], [8, "me"], [9, "dee"]));
    assert.deepEqual(seen, ['leave:1:"me"', 'leave:2:"bob"', 'update:3:"cy typing"', 'join:8:"me"', 'join:9:"dee"', "sync:3,8,9"]);
    assert.deepEqual([...presence.members.keys()], [3, 8, 9]);
  });

  test("made while the socket is down: asks at the next resume", () => {
    const { port, presence } = rig(false);
    assert.deepEqual(port.take(), []);
    port.open = true;
    presence.resume();
    assert.deepEqual(port.take(), [{ t: "presence_sub" }]);
  });

  test("close(): presence_unsub, frames ignored after, ready rejects if no list came", async () => {
    const { port, presence, seen, hub } = rig();
    port.take();
    presence.close();
    assert.deepEqual(port.take(), [{ t: "presence_unsub" }]);
    assert.equal(port.closedWith, presence);
    assert.ok(presence.closed);
    await assert.rejects(presence.ready, ConnectionClosed);
    hub(list([1, "x"]));
    assert.deepEqual(seen, []);
    presence.resume();
    assert.deepEqual(port.take(), [], "never asked again");
    presence.close();
    assert.deepEqual(port.take(), []);
  });

  test("the connection's end rejects ready with its error, if no list came", async () => {
    const { presence } = rig();
    const error = new ConnectionClosed("gone");
    presence.end(error);
    await assert.rejects(presence.ready, (e: unknown) => e === error);
    const listed = rig();
    listed.hub(list());
    listed.presence.end(error);
    await listed.presence.ready;
  });
});
