/**
 * Reconnect delays: exponential backoff with jitter, with partysocket's option names
 * (and the Python SDK's rule). Pure: no timer, and the random source is injected.
 *
 * Rules:
 *
 * 1. Retry n (1 for the first attempt after a failure or a drop) waits
 *    `min(maxReconnectionDelay, minReconnectionDelay * reconnectionDelayGrowFactor^(n-1))`
 *    scaled down by a random factor in `(1 - reconnectionDelayJitter, 1]`, so clients
 *    dropped together by a hub restart do not come back together. Delays never exceed
 *    `maxReconnectionDelay`.
 * 2. The connection counts retries; a socket that stays welcomed for `minUptime` starts it over.
 */

/** The options of the reconnect delay (partysocket's names and meaning; milliseconds). */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter. Default 500. */
  minReconnectionDelay?: number;
  /** Largest delay between attempts. Default 10000. */
  maxReconnectionDelay?: number;
  /** Each further retry waits this many times longer. Default 2. */
  reconnectionDelayGrowFactor?: number;
  /** Fraction of a delay that may be taken off at random, 0 (none) to 1. Default 0.5. */
  reconnectionDelayJitter?: number;
}

/** The defaults: the Python SDK's (0.5 s doubling to 10 s, jitter 0.5). */
export const BACKOFF_DEFAULTS: Readonly<Required<BackoffOptions>> = Object.freeze({
  minReconnectionDelay: 500,
  maxReconnectionDelay: 10_000,
  reconnectionDelayGrowFactor: 2,
  reconnectionDelayJitter: 0.5,
});

function check(name: string, value: number, low: number, high = Number.POSITIVE_INFINITY): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < low || value > high) {
    throw new RangeError(`${name} must be a number from ${low} to ${high}, got ${String(value)}`);
  }
  return value;
}

/** The delay schedule of a connection. */
export class Backoff {
  readonly min: number;
  readonly max: number;
  readonly grow: number;
  readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    const pick = <K extends keyof BackoffOptions>(key: K): number => options[key] ?? BACKOFF_DEFAULTS[key];
    this.min = check("minReconnectionDelay", pick("minReconnectionDelay"), 0);
    this.max = check("maxReconnectionDelay", pick("maxReconnectionDelay"), this.min);
    this.grow = check("reconnectionDelayGrowFactor", pick("reconnectionDelayGrowFactor"), 1);
    this.jitter = check("reconnectionDelayJitter", pick("reconnectionDelayJitter"), 0, 1);
    this.random = random;
  }

  /** The delay of retry `n` (1-based), before jitter. */
  base(n: number): number {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`retry must be an integer from 1, got ${n}`);
    let delay = this.min;
    // Step by step, so a huge retry number never overflows.
    for (let i = 1; i < n && delay < this.max; i++) delay *= this.grow;
    return Math.min(delay, this.max);
  }

  /** The delay before retry `n` (1-based), jitter applied, in ms. */
  delay(n: number): number {
    return this.base(n) * (1 - this.jitter * this.random());
  }
}
