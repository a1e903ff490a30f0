/**
 * A page in headless Chromium (Debian's /usr/bin/chromium through playwright-core) using
 * the published build (dist/*.js) with a READ-ONLY database token against a real hub: it
 * lists rows of `db.table("users").all()`, shows the `read_only` error of a write, and
 * follows the table's feed over the browser's own WebSocket.
 *
 * The hub sends no CORS headers, so a page on another origin cannot call `/db/` with a
 * bearer token (its preflight is refused). The test's server stands where a deployment's
 * front would: it serves the page and the package, and passes `/db/...` (HTTP and the
 * WebSocket upgrade) to the hub, so the page and the database share one origin.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { type Server, createServer, request as httpRequest } from "node:http";
import { type AddressInfo, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";

import { type Browser, chromium } from "playwright-core";

import { admin, database } from "../src/index.js";
import { Cleanup, HubProcess, TIMEOUT, tempDir, within } from "./harness.js";
import { DIST } from "./paths.js";

const CHROMIUM = "/usr/bin/chromium";
const SKIP = existsSync(CHROMIUM) ? false : `needs Debian's chromium at ${CHROMIUM} (apt-get install chromium)`;
const ADMIN_KEY = "browser-admin-key";

/** The page: what a read-only dashboard of one organisation would do with roost-client. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>loading</title>
<ul id="users"></ul>
<p id="error"></p>
<ul id="changes"></ul>
<script type="module">
  import { database, ReadOnly } from "/dist/index.js";
  const params = new URLSearchParams(location.hash.slice(1));
  const db = database(location.origin, params.get("name"), { token: params.get("token") });
  const users = db.table("users");
  for (const user of await users.orderBy("id").all()) {
    const item = document.createElement("li");
    item.textContent = user.id + " " + user.email;
    document.querySelector("#users").append(item);
  }
  try {
    await users.insert({ id: "intruder", email: "x@evil.test" });
    document.querySelector("#error").textContent = "written";
  } catch (error) {
    document.querySelector("#error").textContent = (error instanceof ReadOnly) + " " + error.code;
  }
  // The snapshot comes first, once complete: after it, the feed is live.
  const feed = db.subscribe("users", { where: { email: { like: "%@acme.com" } } });
  feed.addEventListener("change", (event) => {
    const item = document.createElement("li");
    item.textContent = event.change.op + " " + event.change.row.id;
    document.querySelector("#changes").append(item);
    queueMicrotask(() => {
      if (feed.state === "live") document.title = "ready";
    });
  });
</script>`;

let cleanup: Cleanup;

beforeEach(() => {
  cleanup = new Cleanup();
});

afterEach(async () => {
  await cleanup.run();
});

/** Serve the page and dist/, and pass /db/... (requests and upgrades) to the hub on `hubPort`. */
async function serveFront(hubPort: number): Promise<string> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    if (path.startsWith("/db/")) {
      const upstream = httpRequest({ host: "127.0.0.1", port: hubPort, method: request.method, path: request.url, headers: request.headers }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      upstream.on("error", () => response.writeHead(502).end());
      request.pipe(upstream);
      return;
    }
    if (path === "/favicon.ico") {
      response.writeHead(204).end();
      return;
    }
    if (path === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
      return;
    }
    const file = /^\/dist\/([a-z-]+\.js)$/.exec(path)?.[1];
    if (file !== undefined && existsSync(join(DIST, file))) {
      response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(readFileSync(join(DIST, file)));
      return;
    }
    response.writeHead(404).end("not found");
  });
  server.on("upgrade", (request, socket, head) => {
    const upstream = tcpConnect(hubPort, "127.0.0.1", () => {
      const lines = [`${request.method} ${request.url} HTTP/1.1`];
      for (let i = 0; i < request.rawHeaders.length; i += 2) lines.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
    cleanup.add(() => {
      upstream.destroy();
      socket.destroy();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanup.add(() => new Promise((resolve) => server.close(resolve)));
  cleanup.add(() => server.closeAllConnections());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("a page with a read-only token lists rows, is refused a write, and follows the feed", { skip: SKIP }, async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup), 0, "app.py", ["--databases", "--admin-key", ADMIN_KEY]);
  const url = `http://${hub.host}`;
  const provisioning = admin(url, ADMIN_KEY);
  const created = await provisioning.createDatabase("org_acme");
  const viewer = await provisioning.createToken("org_acme", { readOnly: true });
  const writer = database(url, "org_acme", { token: created.token });
  await writer.migrate([["0001_users", "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL)"]]);
  await writer.table("users").insert([
    { id: "u1", email: "ann@acme.com" },
    { id: "u2", email: "bob@acme.com" },
  ]);

  const front = await serveFront(hub.port);
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    timeout: TIMEOUT * 3,
  });
  cleanup.add(() => browser.close());
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  await page.goto(`${front}/#name=org_acme&token=${encodeURIComponent(viewer.token)}`);
  await page.waitForFunction(() => document.title === "ready");

  const texts = (selector: string): Promise<string[]> => page.$$eval(selector, (items) => items.map((item) => item.textContent ?? ""));
  assert.deepEqual(await texts("#users li"), ["u1 ann@acme.com", "u2 bob@acme.com"]);
  assert.deepEqual(await texts("#error"), ["true read_only"]);
  assert.equal(await writer.table("users").count(), 2, "the page's write did not land");

  await writer.table("users").insert([
    { id: "u3", email: "cy@else.org" },
    { id: "u4", email: "di@acme.com" },
  ]);
  await writer.table("users").where({ id: "u1" }).delete();
  await within(page.waitForFunction(() => document.querySelectorAll("#changes li").length >= 4), "the page to see two changes");
  assert.deepEqual(await texts("#changes li"), ["snapshot u1", "snapshot u2", "insert u4", "delete u1"]);
  // A refused write is logged by Chromium as a failed resource load (403); nothing else may fail.
  assert.deepEqual(errors.filter((error) => !/status of 403/.test(error)), []);
});
