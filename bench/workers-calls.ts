/**
 * Grain calls on Workers: `Counter.add(1)` through the built Granary Worker (the gateway,
 * the wire codec, a Durable Object per grain, the activation's mailbox, the conditional
 * write to Durable Object storage) beside a hand-written Durable Object counter doing the
 * same work (the same POST /grains/Counter/<key>/add with {"args":[1]}: JSON body, one RPC to
 * the object named by the key, read, add, write to the SQLite-backed storage, JSON reply),
 * both in the same workerd (miniflare), over plain HTTP to each Worker's own socket.
 * At concurrency 1 (one key) and 32 (32 distinct keys). Target: Granary ≥ 0.8× the baseline
 * in every round.
 *
 *   npm run bench -- workers
 * (it bundles the sample-grain Worker itself, with deploy/build-worker.mjs, into a temp dir).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { fmtRate, heading, paired, row } from './support.js';

/** The repository root: above this file (bench/ or dist/bench/), else the working directory. */
function repoRoot(): string {
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
      if (existsSync(join(dir, 'wrangler.toml')) && existsSync(join(dir, 'deploy/build-worker.mjs'))) return dir;
    }
  }
  throw new Error('run from the repository: wrangler.toml and deploy/build-worker.mjs not found');
}

/** The hand-written Durable Object counter: what one would write without Granary. */
const BASELINE = `
import { DurableObject } from 'cloudflare:workers';
export class Counter extends DurableObject {
  add(n) {
    const kv = this.ctx.storage.kv;
    const value = (kv.get('value') ?? 0) + n;
    kv.put('value', value);
    return value;
  }
  get() {
    return this.ctx.storage.kv.get('value') ?? 0;
  }
}
export default {
  async fetch(request, env) {
    const [, grains, type, key, method] = new URL(request.url).pathname.split('/');
    if (request.method !== 'POST' || grains !== 'grains' || type !== 'Counter' || (method !== 'add' && method !== 'get')) {
      return Response.json({ error: { code: 'not_found', message: 'POST /grains/Counter/:key/(add|get)' } }, { status: 404 });
    }
    const { args } = await request.json();
    const ns = env.COUNTERS;
    const stub = ns.get(ns.idFromName(decodeURIComponent(key)));
    const result = method === 'add' ? await stub.add(args[0]) : await stub.get();
    return Response.json({ result });
  }
};
`;

const root = repoRoot();
const build = mkdtempSync(join(tmpdir(), 'granary-bench-worker-'));
try {
  execFileSync(process.execPath, [join(root, 'deploy/build-worker.mjs'), '--outfile', join(build, 'worker.js')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
} catch (err) {
  rmSync(build, { recursive: true, force: true });
  throw err;
}

const shared = { compatibilityDate: '2026-04-01', compatibilityFlags: ['nodejs_compat'], modules: true } as const;
const mf = new Miniflare({
  host: '127.0.0.1',
  port: 0,
  workers: [
    {
      ...shared,
      name: 'granary',
      scriptPath: join(build, 'worker.js'),
      modulesRoot: build,
      durableObjects: { GRAINS: { className: 'GrainObject', useSQLite: true } },
      unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    },
    {
      ...shared,
      name: 'baseline',
      script: BASELINE,
      durableObjects: { COUNTERS: { className: 'Counter', useSQLite: true } },
      unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    },
  ],
});

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function post(url: URL, path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `callers` loops, each on its own key, `perCaller` calls each: one batch. */
function batch(url: URL, method: string, prefix: string, callers: number, perCaller: number): () => Promise<void> {
  const body = method === 'add' ? '{"args":[1]}' : '{"args":[]}';
  return async () => {
    await Promise.all(Array.from({ length: callers }, async (_, i) => {
      const path = `/grains/Counter/${prefix}${i}/${method}`;
      for (let j = 0; j < perCaller; j++) await post(url, path, body);
    }));
  };
}

try {
  await mf.ready;
  const granary = await mf.unsafeGetDirectURL('granary');
  const baseline = await mf.unsafeGetDirectURL('baseline');
  // Both answer the same request the same way before anything is measured.
  const [g, b] = [await post(granary, '/grains/Counter/check/add', '{"args":[2]}'), await post(baseline, '/grains/Counter/check/add', '{"args":[2]}')];
  if (g !== '{"result":2}' || b !== '{"result":2}') throw new Error(`the two Workers disagree: granary ${g}, baseline ${b}`);

  heading('Workers: Counter over HTTP to workerd (miniflare 4), Granary Worker vs hand-written Durable Object');
  // add(1): the figure with the target (a write per call); get(): no storage write, so the
  // per-call CPU of Granary's path (gateway, codec, mailbox) shows more plainly.
  for (const method of ['add', 'get']) {
    for (const [callers, perCaller] of [[1, 20], [32, 4]] as const) {
      const r = await paired(
        { name: 'granary', ops: callers * perCaller, batch: batch(granary, method, `c${callers}-`, callers, perCaller) },
        { name: 'baseline', ops: callers * perCaller, batch: batch(baseline, method, `c${callers}-`, callers, perCaller) },
        { ms: Number(process.env.BENCH_MS ?? 1_000), rounds: Number(process.env.BENCH_ROUNDS ?? 9) },
      );
      row({ label: `Counter.${method}(), concurrency ${callers}`, value: fmtRate(r.a), limitLabel: 'hand-written DO counter', limit: fmtRate(r.b), ratios: r.ratios, atLeast: method === 'add' ? 0.8 : undefined });
    }
  }
} finally {
  agent.destroy();
  await mf.dispose();
  rmSync(build, { recursive: true, force: true });
}
