/**
 * Bearer token, the authorize hook, per-client rate limits and the body limit option.
 * Each test uses grain keys and rate-limit clients of its own, so any order passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Silo } from 'granary';
import { createGatewayApp, siloBackend } from '../../silo/gateway/index.js';
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
    const none = await call(port, '/grains/Counter/no-token/add', { args: [1] });
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('unauthorized');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await call(port, '/grains/Counter/no-token/add', { args: [1] }, bearer('sekret-token-43'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Bearer realm="granary", error="invalid_token"/);
    const prefix = await call(port, '/grains/Counter/no-token/add', { args: [1] }, bearer('sekret'));
    expect(prefix.status).toBe(401);
    const basic = await call(port, '/grains/Counter/no-token/add', { args: [1] }, { authorization: `Basic ${TOKEN}` });
    expect(basic.status).toBe(401);
    expect(basic.json.error.code).toBe('unauthorized');
    const spaced = await call(port, '/grains/Counter/no-token/add', { args: [1] }, { authorization: `Bearer ${TOKEN} extra` });
    expect(spaced.status).toBe(401);
    expect(await silo.getGrain(Counter, 'no-token').get()).toBe(0);
  });

  it('the right token passes; the authorize hook can still refuse (403)', async () => {
    const ok = await call(port, '/grains/Counter/token/add', { args: [1] }, bearer(TOKEN, { 'x-client': 'ok' }));
    expect(ok.status).toBe(200);
    expect(seen).toContain('/grains/Counter/token/add');
    const blocked = await call(port, '/grains/Counter/token/add', { args: [1] }, bearer(TOKEN, { 'x-client': 'ok', 'x-tenant': 'blocked' }));
    expect(blocked.status).toBe(403);
    expect(blocked.json.error.code).toBe('forbidden');
    expect(await silo.getGrain(Counter, 'token').get()).toBe(1);
  });

  it('a token bearer headers cannot carry (RFC 6750 characters) is refused when the gateway is built', () => {
    expect(() => createGatewayApp(siloBackend(silo), { token: 'pass word!' })).toThrow(/RFC 6750/);
    expect(() => createGatewayApp(siloBackend(silo), { token: 'aZ09-._~+/==' })).not.toThrow();
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
    const r = await call(port, '/grains/Counter/big/add', { args: ['x'.repeat(300)] }, bearer(TOKEN, { 'x-client': 'big' }));
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('payload_too_large');
    const chunked = await raw(port, 'POST', '/grains/Counter/big/add', {
      headers: { ...bearer(TOKEN, { 'x-client': 'big' }), 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: ['{"args":["', 'y'.repeat(200), 'y'.repeat(200), '"]}'],
    });
    expect(chunked.status).toBe(413);
    expect(chunked.json.error.code).toBe('payload_too_large');
    const small = await call(port, '/grains/Counter/big/add', { args: [1] }, bearer(TOKEN, { 'x-client': 'big' }));
    expect(small.status).toBe(200);
    expect(await silo.getGrain(Counter, 'big').get()).toBe(1);
  });
});
