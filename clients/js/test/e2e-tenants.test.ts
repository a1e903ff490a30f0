/**
 * examples/tenants.py from Node, served as a user serves it (`roost serve
 * examples/tenants.py --admin-key K`: the example turns database objects on itself).
 * One organisation signs up through the example's own app server (`Tenants.signup`, in
 * Python); another through the JS `admin()` client in the same steps (create, migrate
 * with the example's migrations, insert the owner). Both are then used with the JS table
 * client, and a browser's read-only token reads and follows but cannot write.
 */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { promisify } from "node:util";

import {
  type Change,
  type Credential,
  type Database,
  DatabaseExists,
  NoSuchDatabase,
  ReadOnly,
  Unauthorized,
  admin,
} from "../src/index.js";
import { Cleanup, HubProcess, TIMEOUT, failure, openDatabase, tempDir, within } from "./harness.js";
import { EXAMPLES, PYTHON, REPO_ROOT } from "./paths.js";

const ADMIN_KEY = "tenants-admin-key";
const EXAMPLE = join(EXAMPLES, "tenants.py");

/** A row of `members` (the example's `Member`). */
interface Member {
  email: string;
  name: string;
  role: string;
  joined_at: number;
}

let cleanup: Cleanup;

beforeEach(() => {
  cleanup = new Cleanup();
});

afterEach(async () => {
  await cleanup.run();
});

/**
 * Run the example's app server (`Tenants`) in Python against `url`: `steps` is the body of
 * an async function with `tenants` in scope; what it returns is printed as JSON and
 * returned here (`args` are `sys.argv[4:]`). The example's `MIGRATIONS` come back as
 * `migrations`.
 */
async function appServer(url: string, steps: string, ...args: string[]): Promise<{ migrations: [string, string][]; result: unknown }> {
  const script = [
    "import asyncio, json, runpy, sys",
    "example = runpy.run_path(sys.argv[1])",
    "tenants = example['Tenants'](sys.argv[2], sys.argv[3])",
    "async def steps():",
    ...steps.split("\n").map((line) => `    ${line}`),
    "print(json.dumps({'migrations': example['MIGRATIONS'], 'result': asyncio.run(steps())}))",
  ].join("\n");
  const { stdout } = await within(
    promisify(execFile)(PYTHON, ["-c", script, EXAMPLE, url, ADMIN_KEY, ...args], { cwd: REPO_ROOT, timeout: TIMEOUT * 3 }),
    "the example's app server",
    3,
  );
  return JSON.parse(stdout) as { migrations: [string, string][]; result: unknown };
}

function open(url: string, name: string, token: Credential): Database {
  return openDatabase(cleanup, url, name, token);
}

/** The next `n` changes of a feed, as [op, email]. */
async function take(changes: AsyncIterator<Change>, n: number, what: string): Promise<[string, unknown][]> {
  const seen: [string, unknown][] = [];
  while (seen.length < n) {
    const next = await within(changes.next(), what);
    assert.ok(!next.done, `${what}: the feed ended`);
    seen.push([next.value.op, (next.value.row as Member | null)?.email]);
  }
  return seen;
}

test("roost serve examples/tenants.py: organisations signed up by the app server and by admin(), used with the table client", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup), 0, EXAMPLE, ["--admin-key", ADMIN_KEY]);
  const url = `http://${hub.host}`;

  // The example's router serves its page on the hub's own origin.
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(await page.text(), /from "\/_roost\/client\.js"/);

  // Globex signs up through the example's own app server (Python), which keeps its token.
  const signedUp = await appServer(
    url,
    "await tenants.signup('Globex', 'hank@globex.com', 'Hank')\nreturn tenants.tokens['Globex']",
  );
  const globexToken = signedUp.result as string;
  const globex = open(url, "Globex", globexToken);
  const hank = await globex.table<Member>("members").all();
  assert.deepEqual(
    hank.map(({ email, name, role }) => [email, name, role]),
    [["hank@globex.com", "Hank", "owner"]],
  );
  assert.equal(typeof hank[0]?.joined_at, "number");

  // Acme Corp signs up through admin() in the same steps: create, migrate, the owner.
  const root = admin(url, ADMIN_KEY);
  const created = await root.createDatabase("Acme Corp");
  assert.equal(created.readOnly, false);
  const acme = open(url, "Acme Corp", created.token);
  const names = signedUp.migrations.map(([name]) => name);
  assert.deepEqual(names, ["0001_members", "0002_members_role"]);
  assert.deepEqual(await acme.migrate(signedUp.migrations), { applied: names, skipped: [] });
  const members = acme.table<Member>("members");
  await members.insert({ email: "ann@acme.com", name: "Ann", role: "owner" });
  assert.ok((await failure(root.createDatabase("Acme Corp"))) instanceof DatabaseExists);
  assert.deepEqual(await acme.migrate(signedUp.migrations), { applied: [], skipped: names }, "each migration once");

  // invite, members (owners first, then by name; by domain), promote: the example's verbs.
  await members.insert([
    { email: "bob@acme.com", name: "Bob" },
    { email: "eve@example.org", name: "Eve" },
  ]);
  const listed = members.orderBy("role", "desc").orderBy("name");
  assert.deepEqual((await listed.all()).map((m) => [m.name, m.role]), [
    ["Ann", "owner"],
    ["Bob", "member"],
    ["Eve", "member"],
  ]);
  assert.deepEqual((await listed.where({ email: { like: "%@acme.com" } }).all()).map((m) => m.name), ["Ann", "Bob"]);
  assert.equal(await members.where({ email: "bob@acme.com" }).update({ role: "owner" }), 1);
  assert.equal(await members.where({ email: "nobody@acme.com" }).update({ role: "owner" }), 0);
  assert.deepEqual((await listed.all()).map((m) => m.name), ["Ann", "Bob", "Eve"]);

  // The example's app server, holding Acme's token, sees what Node wrote and writes too.
  const fromPython = await appServer(
    url,
    [
      "tenants.tokens['Acme Corp'] = sys.argv[4]",
      "await tenants.invite('Acme Corp', 'dan@acme.com', 'Dan')",
      "return [m.name for m in await tenants.members('Acme Corp', domain='acme.com')]",
    ].join("\n"),
    created.token,
  );
  assert.deepEqual(fromPython.result, ["Ann", "Bob", "Dan"]);
  assert.equal(await members.count(), 4);

  // One organisation's token never opens another's database.
  const wrong = await failure(open(url, "Globex", created.token).table("members").count());
  assert.ok(wrong instanceof Unauthorized, wrong.message);
  assert.ok((await failure(open(url, "Acme Corp", globexToken).table("members").count())) instanceof Unauthorized);
});

test("a browser's read-only token reads and follows the members, cannot write, and ends with the database", async () => {
  const hub = await HubProcess.start(cleanup, tempDir(cleanup), 0, EXAMPLE, ["--admin-key", ADMIN_KEY]);
  const url = `http://${hub.host}`;
  const signedUp = await appServer(url, "await tenants.signup('Acme Corp', 'ann@acme.com', 'Ann')\nreturn tenants.tokens['Acme Corp']");
  const writer = open(url, "Acme Corp", signedUp.result as string);
  const root = admin(url, ADMIN_KEY);
  const browserToken = await root.createToken("Acme Corp", { readOnly: true }); // Tenants.browser_token
  assert.equal(browserToken.readOnly, true);

  const reader = open(url, "Acme Corp", browserToken.token);
  const members = reader.table<Member>("members");
  assert.deepEqual((await members.all()).map((m) => m.email), ["ann@acme.com"]);
  for (const write of [
    members.insert({ email: "mallory@evil.test", name: "M" }),
    members.where({ email: "ann@acme.com" }).update({ role: "member" }),
    members.delete(),
    reader.query("DELETE FROM members"),
  ]) {
    const refused = await failure(write);
    assert.ok(refused instanceof ReadOnly, refused.message);
    assert.equal(refused.code, "read_only");
  }
  assert.equal(await writer.table("members").count(), 1, "nothing was written");

  // A read-only token may follow the feed: the snapshot, then the app server's writes.
  const changes = reader.subscribe<Member>("members")[Symbol.asyncIterator]();
  assert.deepEqual(await take(changes, 1, "the snapshot"), [["snapshot", "ann@acme.com"]]);
  await writer.table<Member>("members").insert({ email: "bob@acme.com", name: "Bob" });
  await writer.table<Member>("members").where({ email: "bob@acme.com" }).update({ role: "owner" });
  assert.deepEqual(await take(changes, 2, "the live changes"), [
    ["insert", "bob@acme.com"],
    ["update", "bob@acme.com"],
  ]);

  // Tenants.close: the database goes, and with it what its tokens opened.
  await root.deleteDatabase("Acme Corp");
  assert.ok((await failure(reader.health())) instanceof NoSuchDatabase);
});
