/**
 * The management routes on a silo's gateway, answering for the whole cluster: two silos on
 * one (in-memory) cluster, asked through one silo's gateway, behind its token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Silo, memoryCluster } from '../../index.js';
import { createGatewayApp } from '../../silo/gateway/app.js';
import { Back, Front } from './grains.js';

const TOKEN = 'admin-token-123';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('management routes', () => {
  const cluster = memoryCluster();
  let a: Silo;
  let b: Silo;
  const get = async (path: string, headers: Record<string, string> = auth) => {
    const res = await fetch(a.gateway!.url + path, { headers });
    return { status: res.status, body: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  beforeAll(async () => {
    a = await Silo.start({ grains: [Front], cluster, gateway: { port: 0, host: '127.0.0.1', token: TOKEN } });
    b = await Silo.start({ grains: [Back], cluster });
    for (let i = 0; i < 5; i++) await a.getGrain(Front, `f${i}`).relay(`b${i}`);
  });
  afterAll(async () => { await a?.stop(); await b?.stop(); });

  it('need the gateway token', async () => {
    expect((await get('/admin/silos', {})).status).toBe(401);
    expect((await get('/admin/grains', { authorization: 'Bearer wrong-token-1' })).status).toBe(401);
  });

  it('GET /admin/silos lists every silo with its status and activations', async () => {
    const { status, body } = await get('/admin/silos');
    expect(status).toBe(200);
    const byId = Object.fromEntries(body.silos.map((s: { id: string }) => [s.id, s]));
    expect(byId[a.id]).toMatchObject({ id: a.id, status: 'active', activations: 5, activationsByType: { Front: 5 } });
    expect(byId[b.id]).toMatchObject({ id: b.id, status: 'active', activations: 5, activationsByType: { Back: 5 } });
  });

  it('GET /admin/grains lists grains across silos, by type, in pages', async () => {
    const all = await get('/admin/grains');
    expect(all.body.grains).toHaveLength(10);
    expect(all.body.next).toBeUndefined();
    const backs = await get('/admin/grains?type=Back');
    expect(backs.body.grains).toEqual([0, 1, 2, 3, 4].map((i) => ({ type: 'Back', key: `b${i}`, silo: b.id })));
    const first = await get('/admin/grains?limit=3');
    expect(first.body.grains.map((g: { key: string }) => g.key)).toEqual(['b0', 'b1', 'b2']);
    expect(first.body.next).toBe('Back/b2');
    const second = await get(`/admin/grains?limit=3&cursor=${encodeURIComponent(first.body.next)}`);
    expect(second.body.grains.map((g: { key: string }) => g.key)).toEqual(['b3', 'b4', 'f0']);
    const bad = await get('/admin/grains?limit=5000');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('limit must be a whole number from 1 to 1000');
  });

  it('GET /admin/grains/:type/:key says whether a grain is active, and where', async () => {
    expect((await get('/admin/grains/Back/b1')).body).toEqual({ type: 'Back', key: 'b1', active: true, silo: b.id });
    expect((await get('/admin/grains/Back/never')).body).toEqual({ type: 'Back', key: 'never', active: false });
  });

  it('POST /admin/grains/:type/:key/deactivate deactivates it on the silo that hosts it', async () => {
    const res = await fetch(`${a.gateway!.url}/admin/grains/Back/b1/deactivate`, { method: 'POST', headers: auth });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 'Back', key: 'b1', active: true, silo: b.id, deactivated: true });
    expect(b.activationCount('Back')).toBe(4);
    expect((await get('/admin/grains/Back/b1')).body.active).toBe(false);
    const again = await fetch(`${a.gateway!.url}/admin/grains/Back/b1/deactivate`, { method: 'POST', headers: auth });
    expect(((await again.json()) as { deactivated: boolean }).deactivated).toBe(false);
  });
});

describe('a host without a management API (a Worker)', () => {
  it('answers the management routes and the dashboard with 404, saying so', async () => {
    // The gateway app as a Worker builds it: its backend offers no `admin` or `dashboard`.
    const app = createGatewayApp({ invoke: async () => null, methodStatus: () => 'callable', ready: () => true });
    for (const path of ['/admin/silos', '/admin/grains', '/admin/grains/T/k', '/dashboard']) {
      const res = await app.request(path);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/no (management API|dashboard)/);
    }
  });
});
