/**
 * The gateway app must stay servable by a Worker: bundled for a neutral platform it pulls in
 * no Node built-ins and not the Node server adapter, and the bundle serves requests.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const APP = join(fileURLToPath(import.meta.url), '..', '..', '..', 'silo', 'gateway', 'app.ts');

describe('gateway app portability', () => {
  it('bundles for a neutral platform without node: imports or @hono/node-server', async () => {
    const out = await build({ entryPoints: [APP], bundle: true, platform: 'neutral', format: 'esm', mainFields: ['module', 'main'], write: false, metafile: true });
    const inputs = Object.keys(out.metafile!.inputs);
    expect(inputs.some((i) => i.includes('@hono/node-server'))).toBe(false);
    expect(inputs.some((i) => i.startsWith('node:'))).toBe(false);
    const code = out.outputFiles[0]!.text;
    expect(code).not.toMatch(/from\s+["']node:/);

    // The bundle works on its own: a backend of plain functions, no silo.
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as typeof import('../../silo/gateway/app.js');
    const app = mod.createGatewayApp({
      invoke: async ({ type, key, method, args, context }) => ({ type, key, method, args, context }),
      methodStatus: (_t, m) => (m === 'hello' ? 'callable' : 'not_callable'),
      ready: () => true,
    });
    const res = await app.request('/grains/T/k/hello', { method: 'POST', headers: { 'content-type': 'application/json', 'x-granary-ctx-user': 'ann' }, body: '{"args":[1]}' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: { type: 'T', key: 'k', method: 'hello', args: [1], context: { user: 'ann' } } });
    expect((await app.request('/grains/T/k/other', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(404);
  });
});
