/**
 * Per-client rate limiting: a token bucket per client key, refilled continuously. The map
 * of buckets is bounded: when it grows past `maxClients`, buckets that are full again
 * (clients idle long enough to have their whole burst back) are dropped. `rateLimit()` is
 * the gateway middleware around it: over the limit → 429 `rate_limited` with `retry-after`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { HttpError } from './http-errors.js';

export interface RateLimitOptions {
  /** Sustained requests per second per client. */
  requestsPerSecond: number;
  /** Requests a client may make at once above the rate (default 2 × the rate). */
  burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;

  constructor(options: RateLimitOptions, private readonly maxClients = 10_000, private readonly now: () => number = Date.now) {
    if (!(options.requestsPerSecond > 0)) throw new TypeError('rateLimit.requestsPerSecond must be a positive number');
    this.rate = options.requestsPerSecond / 1000;
    this.burst = Math.max(1, options.burst ?? options.requestsPerSecond * 2);
  }

  /** 0 when the request may go ahead; else the milliseconds until it could. */
  take(client: string): number {
    const now = this.now();
    let b = this.buckets.get(client);
    if (b === undefined) {
      if (this.buckets.size >= this.maxClients) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.rate);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.rate);
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.rate >= this.burst) this.buckets.delete(k);
    }
    // Everyone is busy: forget the oldest tenth rather than grow without bound.
    if (this.buckets.size >= this.maxClients) {
      let n = Math.ceil(this.maxClients / 10);
      for (const k of this.buckets.keys()) { this.buckets.delete(k); if (--n === 0) break; }
    }
  }
}

export interface RateLimitMiddlewareOptions extends RateLimitOptions {
  /**
   * Who a request counts against: an authenticated subject or a client address
   * (client-key.ts), never a header the client can vary, or each made-up value gets a fresh bucket.
   */
  clientKey(c: Context): string;
}

export function rateLimit(options: RateLimitMiddlewareOptions): MiddlewareHandler {
  const limiter = new RateLimiter(options);
  return createMiddleware(async (c, next) => {
    const waitMs = limiter.take(options.clientKey(c));
    if (waitMs > 0) {
      const seconds = String(Math.ceil(waitMs / 1000));
      throw new HttpError('rate_limited', `too many requests from this client; retry in ${seconds} s`, { 'retry-after': seconds });
    }
    await next();
  });
}
