/**
 * Real components for the end-to-end tests: a hub process (`roost serve` on the fixture
 * app), a TCP proxy that cuts connections where the test says, and waits with timeouts.
 *
 * Rules:
 *
 * 1. Nothing sleeps: every wait is for an event, bounded by `TIMEOUT` (one unit,
 *    `ROOST_TEST_TIMEOUT` seconds, default 10, as in the Python tests).
 * 2. Every process, server and socket a test starts is stopped by `cleanup()`, even
 *    when the test fails.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, type Server, Socket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import assert from "node:assert/strict";

import WebSocket from "ws";

import { type Credential, type Database, RoostError, database } from "../src/index.js";
import { FIXTURES, PYTHON, REPO_ROOT } from "./paths.js";

/** One timeout unit, in ms. */
export const TIMEOUT = Number(process.env.ROOST_TEST_TIMEOUT ?? "10") * 1000;

/** `promise`, or a rejection naming `what` after `factor` timeout units. */
export async function within<T>(promise: Promise<T>, what: string, factor = 1): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT * factor} ms: ${what}`)), TIMEOUT * factor);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error `promise` rejects with, which must be a `RoostError` (fails the test if it resolves). */
export async function failure(promise: Promise<unknown>): Promise<RoostError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RoostError, `not a RoostError: ${String(error)}`);
    return error;
  }
  assert.fail("resolved, expected a rejection");
}

/** A database client of `name` on the hub at `url` (quick reconnects), closed by `cleanup()`. */
export function openDatabase(cleanup: Cleanup, url: string, name: string, token: Credential): Database {
  const db = database(url, name, { token, socket: { WebSocket, minReconnectionDelay: 10, maxReconnectionDelay: 100 } });
  cleanup.add(() => db.close());
  return db;
}

/** A temporary directory, removed by `cleanup()`. */
export function tempDir(cleanup: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), "roost-js-"));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Things to undo at the end of a test, last first. */
export class Cleanup {
  private readonly steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    this.steps.length = 0;
    if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
  }
}

/** `roost serve test/fixtures/app.py` in a child process. */
export class HubProcess {
  readonly port: number;
  readonly dataDir: string;
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private readonly exited: Promise<void>;

  private constructor(child: ChildProcess, port: number, dataDir: string, lines: string[], stderr: string[]) {
    this.child = child;
    this.port = port;
    this.dataDir = dataDir;
    this.lines = lines;
    this.stderr = stderr;
    this.exited = once(child, "exit").then(() => undefined);
    child.stdout?.on("data", () => this.wake());
  }

  /** Start a hub on `port` (0: any free port) with its data in `dataDir` (and `extra` options of
   * `roost serve`); wait until it serves. `app` is a file of test/fixtures/, or an absolute path. */
  static async start(cleanup: Cleanup, dataDir: string, port = 0, app = "app.py", extra: string[] = []): Promise<HubProcess> {
    const child = spawn(
      PYTHON,
      ["-m", "hub.cli", "serve", resolve(FIXTURES, app), "--port", String(port), "--data-dir", dataDir, "--log-level", "warning", ...extra],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PYTHONUNBUFFERED: "1" } },
    );
    const lines: string[] = [];
    const stderr: string[] = [];
    let partial = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => stderr.push(chunk));
    cleanup.add(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await once(child, "exit");
      }
    });
    const serving = new Promise<number>((resolve, reject) => {
      const check = (): void => {
        for (const line of lines) {
          const match = /^roost: serving on http:\/\/127\.0\.0\.1:(\d+) /.exec(line);
          if (match) {
            child.stdout.off("data", check);
            resolve(Number(match[1]));
            return;
          }
        }
      };
      child.stdout.on("data", check);
      child.once("error", (error) => reject(new Error(`could not start ${PYTHON}: ${error.message}`)));
      child.once("exit", (code, signal) =>
        reject(new Error(`the hub exited with ${code ?? signal} before serving:\n${stderr.join("")}`)),
      );
    });
    const actual = await within(serving, "the hub to serve", 3);
    return new HubProcess(child, actual, dataDir, lines, stderr);
  }

  /** The WebSocket / HTTP base address. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Wait for a stdout line matching `pattern` (one printed earlier counts). */
  async waitForLine(pattern: RegExp): Promise<string> {
    return within(
      new Promise<string>((resolve) => {
        const check = (): void => {
          const line = this.lines.find((candidate) => pattern.test(candidate));
          if (line !== undefined) {
            this.waiters.delete(check);
            resolve(line);
          }
        };
        this.waiters.add(check);
        check();
      }),
      `a hub line matching ${pattern}`,
    );
  }

  /** Kill the process with `signal` and wait until it is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.child.kill(signal);
    await within(this.exited, `the hub to exit on ${signal}`, 2);
  }

  private wake(): void {
    // Lines are split by the first data listener, which runs before this one.
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** Where to cut a connection through the proxy; the first limit reached wins. */
export interface CutPlan {
  /** After this many bytes from the client. */
  up?: number;
  /** After this many bytes from the hub. */
  down?: number;
  /** Right after the hub sent this text this many times (hub frames are not masked). */
  downText?: readonly [string, number];
}

/**
 * A TCP proxy in front of the hub that cuts connections where the test says (the client
 * sees a drop without a close frame: 1006), and can hold new connections back.
 */
export class Proxy {
  readonly port: number;
  /** Connections made through the proxy so far. */
  connections = 0;
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private plan: ((n: number) => CutPlan | undefined) | undefined;
  private held: (() => void)[] | null = null;

  private constructor(server: Server) {
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  static async start(cleanup: Cleanup, target: () => number): Promise<Proxy> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const proxy = new Proxy(server);
    server.on("connection", (client) => {
      if (proxy.held === null) proxy.accept(client, target());
      else proxy.held.push(() => proxy.accept(client, target()));
    });
    cleanup.add(() => proxy.stop());
    return proxy;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** How to cut connection n (1-based); undefined: leave it alone. */
  cutAfter(plan: (n: number) => CutPlan | undefined): void {
    this.plan = plan;
  }

  /** Accept new connections but connect them to the hub only at `release()`. */
  hold(): void {
    this.held ??= [];
  }

  /** Connect the held connections, and new ones from now on. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const accept of held) accept();
  }

  /** Cut every connection now, without closing handshakes. */
  cutAll(): void {
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.release();
    this.cutAll();
    this.server.close();
    await once(this.server, "close");
  }

  private accept(client: Socket, port: number): void {
    this.connections += 1;
    const plan = this.plan?.(this.connections) ?? {};
    const upstream = new Socket();
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    let cutting = false;
    const cut = (): void => {
      this.pairs.delete(pair);
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    /** Forward `from` to `to`; `limit(chunk)` says how many bytes of the chunk pass before the cut. */
    const pipe = (from: Socket, to: Socket, limit: (chunk: Buffer) => number | undefined): void => {
      from.on("data", (chunk: Buffer) => {
        if (cutting) return;
        const end = limit(chunk);
        if (end === undefined) {
          to.write(chunk);
          return;
        }
        cutting = true;
        from.pause();
        to.write(chunk.subarray(0, end), cut);
      });
    };
    const bytes = (max: number | undefined): ((chunk: Buffer) => number | undefined) => {
      let carried = 0;
      return (chunk) => {
        if (max !== undefined && carried + chunk.length >= max) return max - carried;
        carried += chunk.length;
        return undefined;
      };
    };
    const downBytes = bytes(plan.down);
    let seen = 0;
    let tail = "";
    const down = (chunk: Buffer): number | undefined => {
      const byBytes = downBytes(chunk);
      if (plan.downText === undefined) return byBytes;
      const [text, times] = plan.downText;
      const window = tail + chunk.toString("latin1");
      let at = window.indexOf(text);
      while (at !== -1) {
        seen += 1;
        const end = at + text.length - tail.length;
        if (seen >= times) return byBytes === undefined ? end : Math.min(end, byBytes);
        at = window.indexOf(text, at + text.length);
      }
      tail = window.slice(-(text.length - 1));
      return byBytes;
    };
    client.on("error", cut);
    upstream.on("error", cut);
    client.on("close", cut);
    upstream.on("close", cut);
    client.pause();
    upstream.connect(port, "127.0.0.1", () => {
      pipe(client, upstream, bytes(plan.up));
      pipe(upstream, client, down);
      client.resume();
    });
  }
}
