/** Bearer token, the authorize hook, per-client rate limits and the body limit option. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Silo } from 'granary';
import { Counter } from '../../grains/index.js';
import { call, raw } from './helpers.js';

const TOKEN = 'sekret-token-42';
let silo: Silo;
let port: number;
const seen: string[] = [];

beforeAll(async () => {
  silo = await Silo.start({
    grains: [Counter],
    gateway: {
      port: 0,
      host: '127.0.0.1',
      token: TOKEN,
      authorize: (req) => {
        seen.push(new URL(req.url).pathname);
        return req.headers.get('x-tenant') !== 'blocked';
      },
      rateLimit: { requestsPerSecond: 2, burst: 3 },
      // Each test is its own client, so their budgets do not mix.
      clientKey: (c) => c.req.header('x-client') ?? 'anonymous',
      maxBodyBytes: 256,
    },
  });
  port = silo.gateway!.port;
});

afterAll(async () => {
  await silo?.stop();
});

const bearer = (t = TOKEN, more: Record<string, string> = {}) => ({ authorization: `Bearer ${t}`, ...more });

describe('auth', () => {
  it('no token or a wrong one → 401 with www-authenticate, and nothing runs', async () => {
    const none = await call(port, '/grains/Counter/a/add', { args: [1] });
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('unauthorized');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await call(port, '/grains/Counter/a/add', { args: [1] }, bearer('sekret-token-43'));
    expect(wrong.status).toBe(401);
    const prefix = await call(port, '/grains/Counter/a/add', { args: [1] }, bearer('sekret'));
    expect(prefix.status).toBe(401);
    const basic = await call(port, '/grains/Counter/a/add', { args: [1] }, { authorization: `Basic ${TOKEN}` });
    expect(basic.status).toBe(401);
    expect(await silo.getGrain(Counter, 'a').get()).toBe(0);
  });

  it('the right token passes; the authorize hook can still refuse (403)', async () => {
    const ok = await call(port, '/grains/Counter/a/add', { args: [1] }, bearer(TOKEN, { 'x-client': 'ok' }));
    expect(ok.status).toBe(200);
    expect(seen).toContain('/grains/Counter/a/add');
    const blocked = await call(port, '/grains/Counter/a/add', { args: [1] }, bearer(TOKEN, { 'x-client': 'ok', 'x-tenant': 'blocked' }));
    expect(blocked.status).toBe(403);
    expect(blocked.json.error.code).toBe('forbidden');
    expect(await silo.getGrain(Counter, 'a').get()).toBe(1);
  });

  it('probes stay open; /metrics needs the token', async () => {
    expect((await raw(port, 'GET', '/healthz')).status).toBe(200);
    expect((await raw(port, 'GET', '/readyz')).status).toBe(200);
    expect((await raw(port, 'GET', '/metrics')).status).toBe(401);
    expect((await raw(port, 'GET', '/metrics', { headers: bearer() })).status).toBe(200);
  });
});

describe('limits', () => {
  it('per-client rate limit → 429 with retry-after; other clients are not affected', async () => {
    const headers = bearer(TOKEN, { 'x-client': 'busy' });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 6; i++) {
      const r = await call(port, '/grains/Counter/rl/add', { args: [1] }, headers);
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses).toContain(429);
    expect(limited!.json.error.code).toBe('rate_limited');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const admitted = statuses.filter((s) => s === 200).length;
    expect(await silo.getGrain(Counter, 'rl').get()).toBe(admitted);
    // Another client (another credential) still gets through.
    const other = await call(port, '/grains/Counter/rl/get', {}, bearer(TOKEN, { 'x-client': 'calm' }));
    expect(other.status).toBe(200);
  });

  it('maxBodyBytes applies (413)', async () => {
    const r = await call(port, '/grains/Counter/a/add', { args: ['x'.repeat(300)] }, bearer(TOKEN, { 'x-client': 'big' }));
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('payload_too_large');
    const small = await call(port, '/grains/Counter/a/add', { args: [1] }, bearer(TOKEN, { 'x-client': 'big' }));
    expect(small.status).toBe(200);
  });
});
