/**
 * The shared vectors (protocol/vectors/*.json, also read by the Python codec tests) and
 * the error table of protocol/SPEC.md §7.2.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import {
  BadFrame,
  ERRORS,
  type ErrorCode,
  decodeClient,
  decodeHub,
  encode,
  shouldReconnect,
  type ClientFrame,
  type HubFrame,
} from "../src/index.js";
import { SPEC, VECTORS_DIR } from "./paths.js";

interface Valid {
  name: string;
  json: string;
  frame: Record<string, unknown>;
  encoded: string;
}

interface Invalid {
  name: string;
  direction: "client" | "hub";
  json: string;
  code: string;
}

function load<T>(file: string): T[] {
  const parsed = JSON.parse(readFileSync(join(VECTORS_DIR, file), "utf8")) as { vectors: T[] };
  assert.ok(parsed.vectors.length > 0, `${file} has no vectors`);
  return parsed.vectors;
}

function assertBadFrame(decode: (text: string) => unknown, text: string, name: string): void {
  assert.throws(
    () => decode(text),
    (error: unknown) => error instanceof BadFrame && error.code === "bad_frame" && !error.retryable,
    `${name}: ${JSON.stringify(text)} should be bad_frame`,
  );
}

/** Every prefix of `text` either fails with BadFrame or is the whole frame (whitespace aside). */
function assertPrefixes(decode: (text: string) => unknown, text: string): void {
  for (let end = 0; end < text.length; end++) {
    const prefix = text.slice(0, end);
    try {
      decode(prefix);
    } catch (error) {
      assert.ok(error instanceof BadFrame, `prefix ${JSON.stringify(prefix)} threw ${String(error)}`);
      continue;
    }
    assert.equal(prefix.trim(), text.trim(), `prefix ${JSON.stringify(prefix)} decoded`);
  }
}

for (const [file, decode] of [
  ["client.json", decodeClient],
  ["hub.json", decodeHub],
] as const) {
  describe(`vectors/${file}`, () => {
    for (const vector of load<Valid>(file)) {
      test(vector.name, () => {
        const frame = decode(vector.json);
        assert.deepStrictEqual(frame, vector.frame);
        assert.equal(encode(vector.frame as unknown as ClientFrame | HubFrame), vector.encoded);
        assert.equal(encode(frame), vector.encoded);
        assert.deepStrictEqual(decode(vector.encoded), vector.frame);
        assertBadFrame(decode, `${vector.json} x`, "trailing bytes");
        assertPrefixes(decode, vector.json);
      });
    }
  });
}

describe("vectors/invalid.json", () => {
  for (const vector of load<Invalid>("invalid.json")) {
    test(`${vector.direction}: ${vector.name}`, () => {
      assert.equal(vector.code, "bad_frame");
      assertBadFrame(vector.direction === "client" ? decodeClient : decodeHub, vector.json, vector.name);
    });
  }
});

test("every wire error code of SPEC §7.2 has its retryable flag and close code", () => {
  const spec = readFileSync(SPEC, "utf8");
  const rows = [...spec.matchAll(/^\| `([a-z_0-9]+)` \| [^|]+ \| \d{3} \| (true|false) \| (—|\d{4}) \|$/gm)];
  assert.ok(rows.length >= 12, `found ${rows.length} rows in the SPEC's table`);
  for (const [, code, retryable, close] of rows) {
    const row = ERRORS[code as ErrorCode];
    assert.ok(row !== undefined, `ERRORS lacks ${code}`);
    assert.deepStrictEqual(
      { code, retryable: row.retryable, close: row.close },
      { code, retryable: retryable === "true", close: close === "—" ? null : Number(close) },
    );
  }
  const specCodes = new Set(rows.map((row) => row[1]));
  for (const [code, row] of Object.entries(ERRORS)) {
    if (!row.clientOnly) assert.ok(specCodes.has(code), `${code} is not in the SPEC's table`);
  }
});

test("the close codes a client reconnects after are those of SPEC §7.3", () => {
  const spec = readFileSync(SPEC, "utf8").replace(/\s+/g, " ");
  const sentence = /A client reconnects after (.*?), and after no other code/.exec(spec)?.[1];
  assert.ok(sentence !== undefined, "SPEC §7.3 names the codes a client reconnects after");
  const specCodes = [...sentence.matchAll(/\b(\d{4})\b/g)].map((match) => Number(match[1]));
  assert.ok(specCodes.length >= 5, sentence);
  const candidates = [...Array.from({ length: 16 }, (_, i) => 1000 + i), 3000, 3999, 4000, 4999];
  assert.deepEqual(candidates.filter((code) => shouldReconnect(code)), specCodes.sort());
});

test("decoders throw only BadFrame, whatever the text", () => {
  const samples = ["", " ", "0", "1e999", "true", "{}", '{"t":null}', '{"t":"msg","data":[]}', "\u0000", "{\"t\":\"ping\"", "\ud800"];
  for (const text of samples) {
    for (const decode of [decodeClient, decodeHub]) {
      try {
        decode(text);
      } catch (error) {
        assert.ok(error instanceof BadFrame, `${JSON.stringify(text)} threw ${String(error)}`);
      }
    }
  }
});

// What JSON.parse hides (a float written 1.0, a member given twice), decided as the
// hub's decoder (msgspec) decides it; candidates for protocol/vectors/invalid.json.
describe("beyond the vectors: what JSON.parse hides", () => {
  const invalid: [string, (text: string) => unknown, string][] = [
    ["id written as a float", decodeHub, '{"t":"ack","id":1.0}'],
    ["id with an exponent", decodeHub, '{"t":"ack","id":1e0}'],
    ["socket written as a float", decodeHub, '{"t":"welcome","session":"a","socket":2.0}'],
    ["a float id, then an integer one", decodeHub, '{"t":"ack","id":2.0,"id":2}'],
    ["two different types", decodeHub, '{"t":"ping","t":"pong"}'],
    ["two different types, one escaped", decodeHub, '{"\\u0074":"pong","t":"ack","id":1}'],
    ["client message id written as a float", decodeClient, '{"t":"msg","id":1.0,"data":0}'],
    ["call id with an exponent", decodeClient, '{"t":"call","id":1E2,"method":"m"}'],
    ["a change's seq written as a float", decodeHub, '{"t":"changes","id":1,"changes":[{"seq":1,"op":"insert","row":{}},{"seq":2.0,"op":"insert","row":{}}]}'],
    ["a float seq, then an integer one, in a change", decodeHub, '{"t":"changes","id":1,"changes":[{"seq":1.0,"seq":1,"op":"insert","row":{}}]}'],
    ["a member's socket with an exponent", decodeHub, '{"t":"presence","members":[{"socket":2e0,"state":1}]}'],
    ["a snapshot's seq written as a float", decodeHub, '{"t":"snapshot","id":1,"seq":1.0,"rows":[]}'],
    ["a change's row null", decodeHub, '{"t":"changes","id":1,"changes":[{"seq":1,"op":"insert","row":null}]}'],
    ["a member without state", decodeHub, '{"t":"presence","members":[{"socket":2}]}'],
    ["since written as a float", decodeClient, '{"t":"sub","id":1,"table":"x","since":1.0}'],
    ["where null", decodeClient, '{"t":"sub","id":1,"table":"x","where":null}'],
    ["columns null", decodeClient, '{"t":"sub","id":1,"table":"x","columns":null}'],
    ["a million brackets", decodeClient, "[".repeat(1_000_000)],
    ["data nested 100,000 deep", decodeClient, `{"t":"msg","data":${"[".repeat(100_000)}${"]".repeat(100_000)}}`],
    ["a result nested 65 deep after an escaped quote", decodeHub, `{"t":"result","id":1,"result":["\\\"",${"[".repeat(63)}${"]".repeat(63)}]}`],
  ];
  for (const [name, decode, text] of invalid) {
    test(`invalid: ${name}`, () => assertBadFrame(decode, text, name));
  }
  const valid: [string, (text: string) => unknown, string, unknown][] = [
    ["minus zero is the integer 0", decodeHub, '{"t":"ack","id":-0}', { t: "ack", id: 0 }],
    ["the last of two ids", decodeHub, '{"t":"ack","id":1,"id":2}', { t: "ack", id: 2 }],
    ["brackets inside strings do not nest", decodeHub, `{"t":"msg","data":"\\"${"[".repeat(200)}"}`, { t: "msg", data: `"${"[".repeat(200)}` }],
    ["the same type twice", decodeHub, '{"t":"pong","t":"pong"}', { t: "pong" }],
    ["floats inside a result", decodeHub, '{"t":"result","result":{"id":1.5,"x":["\\"}",{"a":[1.0]}]},"id":7}', { t: "result", id: 7, result: { id: 1.5, x: ['"}', { a: [1] }] } }],
    ["quotes and t inside data", decodeHub, '{"t":"msg","data":"a \\"t\\" \\\\\\"t\\\\\\" \\"t"}', { t: "msg", data: 'a "t" \\"t\\" "t' }],
    [
      "floats and a seq member inside a row; unknown members of a change dropped",
      decodeHub,
      '{"t":"changes","id":1,"changes":[{"seq":2,"op":"update","row":{"seq":1.5,"x":"1.0"},"extra":1.0}]}',
      { t: "changes", id: 1, changes: [{ seq: 2, op: "update", row: { seq: 1.5, x: "1.0" } }] },
    ],
    ["floats inside snapshot rows", decodeHub, '{"t":"snapshot","id":1,"seq":3,"rows":[{"a":1.0}]}', { t: "snapshot", id: 1, seq: 3, rows: [{ a: 1 }] }],
    ["a null presence state (the hub never sends it, the decoder keeps it)", decodeHub, '{"t":"join","socket":2,"state":null}', { t: "join", socket: 2, state: null }],
    [
      "snapshot and since together: a valid frame, refused by the hub with bad_subscription (SPEC §9.3)",
      decodeClient,
      '{"t":"sub","id":1,"table":"x","snapshot":true,"since":3}',
      { t: "sub", id: 1, table: "x", where: [], snapshot: true, since: 3 },
    ],
  ];
  for (const [name, decode, text, frame] of valid) {
    test(`valid: ${name}`, () => assert.deepStrictEqual(decode(text), frame));
  }
});

test("encoding refuses what is not JSON or out of range", () => {
  assert.throws(() => encode({ t: "msg", data: undefined as never }), TypeError);
  assert.throws(() => encode({ t: "msg", data: 10n as never }), TypeError);
  assert.throws(() => encode({ t: "msg", data: "x", id: -1 }), RangeError);
  assert.throws(() => encode({ t: "call", id: 2 ** 53, method: "m", args: [], kwargs: {} }), RangeError);
});
