/**
 * `npm run build:worker` (deploy/build-worker.mjs) and wrangler.toml: the build writes the
 * one ES module wrangler.toml's `main` names, with nothing Node-only in it; that artifact
 * serves the sample grains in workerd, and with persistence on their state survives a
 * restart of the runtime.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient } from 'granary';
import { ChatRoom, Counter } from '../../grains/index.js';
import { ROOT, startWorker, tempDir, wranglerConfig, type RunningWorker } from './worker-host.js';

const run = promisify(execFile);
const cfg = wranglerConfig();
const artifact = join(ROOT, cfg.main);
const scratch = tempDir('granary-worker-build-');
const running: RunningWorker[] = [];

let buildStartedAt = 0;
beforeAll(async () => {
  // Exactly what `npm run build:worker` (and wrangler's [build] command) runs.
  buildStartedAt = Date.now();
  await run(process.execPath, ['deploy/build-worker.mjs'], { cwd: ROOT });
});

afterAll(async () => {
  for (const w of running) await w.dispose().catch(() => undefined);
  scratch.remove();
});

async function start(persistDir?: string): Promise<RunningWorker> {
  const w = await startWorker({ scriptPath: artifact, persistDir });
  running.push(w);
  return w;
}

async function stop(w: RunningWorker): Promise<void> {
  running.splice(running.indexOf(w), 1);
  await w.dispose();
}

describe('the Worker build and wrangler.toml', () => {
  it('wrangler.toml deploys the bundle the build wrote, as is, with nodejs_compat and a SQLite-backed GrainObject', () => {
    expect(cfg.main).toBe('dist/worker/worker.js');
    expect(existsSync(artifact)).toBe(true);
    // Written by this build, not left over (1 s of slack for coarse file-system timestamps).
    expect(statSync(artifact).mtimeMs).toBeGreaterThanOrEqual(buildStartedAt - 1_000);
    expect(cfg.noBundle).toBe(true);
    expect(cfg.buildCommand).toBe('node deploy/build-worker.mjs');
    expect(cfg.compatibilityFlags).toContain('nodejs_compat');
    expect(cfg.bindings).toEqual([{ name: 'GRAINS', className: 'GrainObject' }, { name: 'STREAMS', className: 'StreamObject' }]);
    expect(cfg.sqliteClasses).toEqual(['GrainObject', 'StreamObject']);
  });

  it('is one ES module whose only imports are workerd built-ins that nodejs_compat provides', () => {
    const code = readFileSync(artifact, 'utf8');
    const imports = [...code.matchAll(/^import\s[^'"]*["']([^"']+)["'];?$/gm)].map((m) => m[1]!);
    // (The DynamoDB client takes node:http and node:https through process.getBuiltinModule on Node only.)
    expect(new Set(imports)).toEqual(new Set(['cloudflare:workers', 'node:async_hooks', 'node:crypto', 'node:util', 'node:zlib']));
    expect(code).not.toMatch(/\brequire\(["'](?:nats|dynalite|@hono\/node-server|fs|net|child_process)["']\)/);
    expect(code).toMatch(/^export\s*\{[^}]*\bGrainObject\b[^}]*\}/m);
    expect(code).toMatch(/^export\s*\{[^}]*\bStreamObject\b[^}]*\}/m);
    const meta = JSON.parse(readFileSync(artifact.replace(/\.js$/, '.meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs);
    expect(inputs.some((p) => p.includes('node_modules/nats/'))).toBe(false);
    expect(inputs.some((p) => p.includes('node_modules/dynalite/'))).toBe(false);
    expect(inputs.some((p) => p.includes('node_modules/@hono/node-server/'))).toBe(false);
    expect(inputs.filter((p) => /^silo\/(nats|memory)\/|^silo\/(main|silo)\.ts$/.test(p))).toEqual([]);
    expect(inputs).toContain('silo/gateway/app.ts'); // the silo gateway's own app, not a copy
  });

  it('refuses grain code that reaches for Node-only modules or silo-only exports', async () => {
    const nodeOnly = join(scratch.dir, 'node-only.ts');
    writeFileSync(nodeOnly, "import { readFileSync } from 'node:fs';\nexport default { fetch: () => new Response(String(readFileSync)) };\n");
    const e1 = await run(process.execPath, ['deploy/build-worker.mjs', '--entry', nodeOnly, '--outfile', join(scratch.dir, 'a.js')], { cwd: ROOT }).catch((e: { stderr: string }) => e);
    expect((e1 as { stderr: string }).stderr).toMatch(/node:fs .*not provided to Workers/);

    const siloOnly = join(scratch.dir, 'silo-only.ts');
    writeFileSync(siloOnly, "import { Silo } from 'granary';\nexport default { fetch: () => new Response(String(Silo)) };\n");
    const e2 = await run(process.execPath, ['deploy/build-worker.mjs', '--entry', siloOnly, '--outfile', join(scratch.dir, 'b.js')], { cwd: ROOT }).catch((e: { stderr: string }) => e);
    expect((e2 as { stderr: string }).stderr).toMatch(/No matching export .* for import "Silo"/);
  });
});

describe('the built Worker in workerd', () => {
  it('serves the sample grains to GrainClient.http, with the same typed API', async () => {
    const w = await start();
    const client = GrainClient.http(w.url);
    try {
      expect(await client.getGrain(Counter, 'x').add(2)).toBe(2);
      expect(await client.getGrain<Counter>('Counter', 'x').get()).toBe(2);
      expect((await (await fetch(`${w.url}/healthz`)).json())).toEqual({ status: 'ok' });
    } finally {
      await client.close();
      await stop(w);
    }
  });

  it('with persistence on, state survives a restart of the runtime; without it, it is gone', async () => {
    const store = join(scratch.dir, 'do-store');
    const first = await start(store);
    let client = GrainClient.http(first.url);
    expect(await client.getGrain(Counter, 'kept').add(5)).toBe(5);
    expect(await client.getGrain(Counter, 'kept').add(2)).toBe(7);
    await client.getGrain(ChatRoom, 'room').join('ann');
    const posted = await client.getGrain(ChatRoom, 'room').post('ann', 'still here?');
    await client.close();
    await stop(first);

    const second = await start(store);
    client = GrainClient.http(second.url);
    expect(await client.getGrain(Counter, 'kept').get()).toBe(7);
    expect(await client.getGrain(ChatRoom, 'room').history()).toEqual([posted]);
    expect(await client.getGrain(Counter, 'kept').add(1)).toBe(8); // the ETag carried on, too
    await client.close();
    await stop(second);

    const fresh = await start(join(scratch.dir, 'other-store'));
    client = GrainClient.http(fresh.url);
    expect(await client.getGrain(Counter, 'kept').get()).toBe(0);
    await client.close();
    await stop(fresh);
  });
});
