/**
 * The single-file bundles (`npm run bundle`, scripts/bundle.mjs): dist/roost-client.js
 * (ESM, what the hub serves at /_roost/client.js) and dist/roost-client.cjs (for
 * `require`). Each loads alone, exports what the package exports, and speaks roost.v1;
 * the hub's committed copies (hub/static/) are this build.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";

import * as sources from "../src/index.js";
import { FakeWebSocket, settle } from "./fake-socket.js";
import { DIST, PACKAGE_ROOT, REPO_ROOT } from "./paths.js";

const ESM = join(DIST, "roost-client.js");
const CJS = join(DIST, "roost-client.cjs");

type Bundle = typeof sources;

/** Open a connection with `bundle` on a fake socket, send one message, get its ack. */
async function roundTrip(bundle: Bundle): Promise<void> {
  FakeWebSocket.reset();
  const connection = new bundle.Connection({ host: "127.0.0.1:1", room: "r", WebSocket: FakeWebSocket, pingInterval: 0 });
  await settle();
  const socket = FakeWebSocket.last.welcome(5);
  const sent = connection.send({ n: 1 });
  assert.deepEqual(socket.frames().slice(1), [{ t: "msg", data: { n: 1 }, id: 1 }]);
  socket.receive({ t: "ack", id: 1 });
  await sent;
  socket.receive({ t: "error", id: null, code: "unauthorized", message: "no", retryable: false });
  assert.equal(connection.socketId, 5);
  await connection.close();
}

test("the ESM bundle is one file, exports what the package exports, and works", async () => {
  const text = readFileSync(ESM, "utf8");
  const imports = /(^|[;}\n])\s*import\s*[\w{*"']|\bimport\s*\(|\brequire\s*\(|["']node:/m.exec(text);
  assert.equal(imports?.[0], undefined, "no import of anything else");
  assert.equal(/\n {2,}\S/.exec(text)?.[0], undefined, "minified: no indented line");
  const bundle = (await import(pathToFileURL(ESM).href)) as Bundle;
  assert.deepEqual(Object.keys(bundle).sort(), Object.keys(sources).sort());
  await roundTrip(bundle);
});

test("the CJS bundle loads with require() and works", async () => {
  const bundle = createRequire(import.meta.url)(CJS) as Bundle;
  assert.deepEqual(Object.keys(bundle).sort(), Object.keys(sources).sort());
  assert.ok(new bundle.Unauthorized("x") instanceof bundle.RoostError);
  await roundTrip(bundle);
});

test("package.json points require at the CJS bundle", () => {
  const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as {
    exports: { ".": Record<string, string> };
  };
  assert.equal(manifest.exports["."]?.require, "./dist/roost-client.cjs");
});

test("the hub serves this build: hub/static holds the same bytes (npm run bundle:hub)", () => {
  for (const name of ["roost-client.js", "roost-client.cjs"]) {
    const committed = readFileSync(join(REPO_ROOT, "hub", "static", name));
    assert.ok(committed.equals(readFileSync(join(DIST, name))), `hub/static/${name} is stale: run npm run bundle:hub in clients/js`);
  }
});
