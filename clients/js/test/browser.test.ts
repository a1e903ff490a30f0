/**
 * The published build (dist/*.js, unchanged) loaded by a page in headless Chromium
 * (Debian's /usr/bin/chromium through playwright-core, never a downloaded browser),
 * talking to a real hub: the browser's own WebSocket, no `ws` package.
 */

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";

import { type Browser, type Page, chromium } from "playwright-core";

import { Cleanup, HubProcess, Proxy, TIMEOUT, tempDir, within } from "./harness.js";
import { DIST } from "./paths.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SKIP = existsSync(CHROMIUM) ? false : `needs Debian's chromium at ${CHROMIUM} (apt-get install chromium)`;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>roost-client in a browser</title>
<script type="module">
  import * as roost from "/dist/index.js";
  window.roost = roost;
  document.title = "ready";
</script>`;

let cleanup: Cleanup;

beforeEach(() => {
  cleanup = new Cleanup();
});

afterEach(async () => {
  await cleanup.run();
});

/** Serve the page and the compiled package (dist/), nothing else. */
async function servePage(): Promise<string> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path === "/favicon.ico") {
      response.writeHead(204).end();
      return;
    }
    if (path === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
      return;
    }
    const file = /^\/dist\/([a-z-]+\.js(\.map)?)$/.exec(path)?.[1];
    if (file !== undefined && existsSync(join(DIST, file))) {
      const type = file.endsWith(".map") ? "application/json" : "text/javascript";
      response.writeHead(200, { "content-type": `${type}; charset=utf-8` }).end(readFileSync(join(DIST, file)));
      return;
    }
    response.writeHead(404).end("not found");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanup.add(() => new Promise((resolve) => server.close(resolve)));
  cleanup.add(() => server.closeAllConnections());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function openPage(base: string): Promise<{ page: Page; errors: string[] }> {
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: TIMEOUT * 3 });
  cleanup.add(() => browser.close());
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  await page.goto(base);
  await page.waitForFunction(() => document.title === "ready");
  return { page, errors };
}

test("the package in Chromium: send, receive, calls, typed errors, binary", { skip: SKIP }, async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const { page, errors } = await openPage(await servePage());
  const outcome = await within(
    page.evaluate(async (host: string) => {
      const { connect, RoostError } = (window as unknown as { roost: typeof import("../src/index.js") }).roost;
      const failure = async (promise: Promise<unknown>) => {
        try {
          await promise;
          return "resolved";
        } catch (error) {
          return error instanceof RoostError ? [error.code, error.retryable, error.remote] : String(error);
        }
      };
      const room = await connect({ host, party: "room", room: "from the browser" });
      const messages = room[Symbol.asyncIterator]();
      await room.send("echo:hello from chromium");
      const echoed = (await messages.next()).value;
      await room.send({ from: "chromium", n: [1, 2] });
      const binary = new Promise<number[]>((resolve) =>
        room.addEventListener("message", (event) => {
          if (event.data instanceof ArrayBuffer) resolve([...new Uint8Array(event.data)]);
        }),
      );
      await room.send(new Uint8Array([7, 8, 9]));
      const result = {
        url: room.url,
        state: room.state,
        echoed,
        binary: await binary,
        add: await room.call("add", [2, 3], { scale: 10 }),
        describe: await room.call("describe", [[1, 1]]),
        missing: await failure(room.call("nope")),
        invalid: await failure(room.call("add", ["two", 3])),
        raised: await failure(room.call("fail", ["x"])),
        boom: await failure(room.send("boom:y")),
        seen: await room.call("seen"),
      };
      await room.close();
      return { ...result, closed: room.state };
    }, hub.host),
    "the page's run",
    3,
  );
  assert.deepEqual(outcome, {
    url: `ws://${hub.host}/objects/room/from%20the%20browser`,
    state: "open",
    echoed: "hello from chromium",
    binary: [9, 8, 7],
    add: 50,
    describe: { label: null, sum: 2, name: "from the browser" },
    missing: ["method_not_found", false, true],
    invalid: ["invalid_arguments", false, true],
    raised: ["object_error", false, true],
    boom: ["object_error", false, true],
    seen: ["echo:hello from chromium", '{"from":"chromium","n":[1,2]}'],
    closed: "closed",
  });
  assert.deepEqual(errors, []);
});

test("exactly once from Chromium across a connection cut mid-stream", { skip: SKIP }, async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const proxy = await Proxy.start(cleanup, () => hub.port);
  proxy.cutAfter((n) => (n === 1 ? { downText: ['"t":"ack"', 40] } : undefined));
  const { page, errors } = await openPage(await servePage());
  const outcome = await within(
    page.evaluate(async (host: string) => {
      const { connect } = (window as unknown as { roost: typeof import("../src/index.js") }).roost;
      const room = await connect({ host, party: "room", room: "cut", minReconnectionDelay: 10, maxReconnectionDelay: 100 });
      const closes: number[] = [];
      room.addEventListener("close", (event) => closes.push(event.code));
      const expected = Array.from({ length: 200 }, (_, i) => `b${i + 1}`);
      await Promise.all(expected.map((text) => room.send(text)));
      const seen = (await room.call("seen")) as string[];
      await room.close();
      return { closes, same: JSON.stringify(seen) === JSON.stringify(expected), count: seen.length };
    }, proxy.host),
    "the page's run",
    3,
  );
  assert.deepEqual(outcome, { closes: [1006, 1000], same: true, count: 200 });
  assert.equal(proxy.connections, 2);
  // Chromium logs the dropped socket as a console error; nothing else may fail.
  assert.deepEqual(errors.filter((error) => !/WebSocket connection to .* failed/.test(error)), []);
});

test("a feed subscription and presence from Chromium", { skip: SKIP }, async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup));
  const { page, errors } = await openPage(await servePage());
  const outcome = await within(
    page.evaluate(async (host: string) => {
      const { connect, NoSuchFeed } = (window as unknown as { roost: typeof import("../src/index.js") }).roost;
      const list = await connect({ host, party: "todo-list", room: "browser", query: { name: "chromium" } });
      await list.call("add_many", [["a", "b"]]);
      const sub = list.subscribe("todos", { snapshot: true, where: { done: false }, columns: ["title"] });
      const changes: unknown[] = [];
      const iterating = (async () => {
        for await (const change of sub) {
          changes.push([change.op, change.row]);
          if (change.op === "delete") break;
        }
      })();
      await list.call("add", ["c"]);
      await list.call("set_done", [1, true]);
      await iterating;
      const seq = sub.seq;
      sub.unsubscribe();
      await list.presence.ready;
      const members = [...list.presence.members];
      const refused = list.subscribe("nope");
      const error = await new Promise((resolve) => refused.addEventListener("error", (event) => resolve(event.error)));
      const result = { changes, seq, members, self: list.socketId, refused: error instanceof NoSuchFeed };
      await list.close();
      return result;
    }, hub.host),
    "the page's run",
    3,
  );
  assert.deepEqual(outcome, {
    changes: [
      ["snapshot", { id: 1, title: "a" }],
      ["snapshot", { id: 2, title: "b" }],
      ["insert", { id: 3, title: "c" }],
      ["delete", { id: 1, title: "a" }],
    ],
    seq: 4,
    members: [[outcome.self, { name: "chromium" }]],
    self: outcome.self,
    refused: true,
  });
  assert.deepEqual(errors, []);
});
