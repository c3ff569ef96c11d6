/**
 * The Worker's configuration through vars (wrangler.toml [vars], secrets): the gateway's
 * token and the response timeout take effect; a configuration the Worker cannot run with is
 * answered on every request with a 500 that names the variable and what to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, TimeoutError } from 'granary';
import { Counter } from '../../grains/index.js';
import { Gate } from '../fixtures/grains.js';
import { buildWorker, startWorker, tempDir, type RunningWorker, type StartOptions } from './worker-host.js';

const build = tempDir('granary-worker-config-');
const script = `${build.dir}/worker.js`;

beforeAll(async () => {
  await buildWorker('test/workers/worker-entry.ts', script);
});

afterAll(() => {
  build.remove();
});

async function withWorker(options: Omit<StartOptions, 'scriptPath'>, fn: (w: RunningWorker) => Promise<void>): Promise<void> {
  const w = await startWorker({ scriptPath: script, ...options });
  try {
    await fn(w);
  } finally {
    await w.dispose();
  }
}

const call = (w: RunningWorker, path: string, headers: Record<string, string> = {}) =>
  fetch(`${w.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"args":[1]}' });

describe('Worker vars', () => {
  it('GRANARY_AUTH_TOKEN guards /grains; the probes stay open', async () => {
    const token = 'worker-secret-0123456789';
    await withWorker({ vars: { GRANARY_AUTH_TOKEN: token } }, async (w) => {
      const refused = await call(w, '/grains/Counter/a/add');
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      expect((await fetch(`${w.url}/healthz`)).status).toBe(200);
      const client = GrainClient.http(w.url, { headers: { authorization: `Bearer ${token}` } });
      try {
        expect(await client.getGrain(Counter, 'a').add(3)).toBe(3);
      } finally {
        await client.close();
      }
    });
  });

  it('GRANARY_RESPONSE_TIMEOUT_MS bounds calls between objects: a call that never answers is a 504', async () => {
    await withWorker({ vars: { GRANARY_RESPONSE_TIMEOUT_MS: '400' } }, async (w) => {
      const client = GrainClient.http(w.url);
      try {
        const t0 = Date.now();
        const err = await client.getGrain(Gate, 'stuck').never().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TimeoutError);
        expect(Date.now() - t0).toBeLessThan(3_000);
        // The object is still usable: an interleaved call goes through beside the stuck turn.
        expect(await client.getGrain(Gate, 'stuck').peek()).toBe(false);
      } finally {
        await client.close();
      }
    });
  });

  const broken: [string, StartOptions['vars'] & object, RegExp][] = [
    ['an unknown storage', { GRANARY_STORAGE: 'memory' }, /GRANARY_STORAGE: expected durable-object or dynamodb/],
    ['dynamodb without a table', { GRANARY_STORAGE: 'dynamodb' }, /GRANARY_DYNAMODB_TABLE.*must be set/],
    ['a container-only variable', { GRANARY_IDLE_TIMEOUT_MS: '1000' }, /GRANARY_IDLE_TIMEOUT_MS has no meaning on Workers/],
    ['a bad number', { GRANARY_MAX_BODY_BYTES: 'lots' }, /GRANARY_MAX_BODY_BYTES/],
  ];
  it.each(broken)('%s: every request answers 500 configuration_error naming the variable', async (_name, vars, message) => {
    await withWorker({ vars }, async (w) => {
      for (const res of [await call(w, '/grains/Counter/a/add'), await fetch(`${w.url}/readyz`)]) {
        expect(res.status).toBe(500);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('configuration_error');
        expect(body.error.message).toMatch(message);
      }
    });
  });

  it('an object that is not SQLite-backed says how to declare it', async () => {
    await withWorker({ legacyStorage: true }, async (w) => {
      const res = await call(w, '/grains/Counter/a/add');
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('configuration_error');
      expect(body.error.message).toMatch(/new_sqlite_classes/);
    });
  });
});
