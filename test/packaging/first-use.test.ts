/**
 * Granary as a new user meets it: this repository packed by `npm pack`, a project made by
 * `granary init` that depends on that tarball, the project's own `npm install` and
 * `npm test`, and its silo process (the Dockerfile's CMD) serving its grain over HTTP.
 *
 * Relies on dist/ being built (`npm test` builds it before vitest). The pack skips the
 * `prepack` build on purpose: rebuilding dist/ here would rewrite files that other test
 * files are running from. `npm install` uses the npm registry (or its cache).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, REPO, spawnSilo, type LogLine, type SiloProcess } from '../process/silo-process.js';
import { readWranglerConfig } from '../workers/wrangler-config.js';

interface Ran { code: number | null; output: string }

const children = new Set<ChildProcess>();
const silos: SiloProcess[] = [];
let work: string;
let tarball: string;
let project: string;

/** The environment without what an enclosing `npm test` or vitest run sets (a user's shell has none of it). */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(npm_|vitest|granary_|aws_)/i.test(k) || ['NODE_ENV', 'NODE_OPTIONS', 'TEST', 'INIT_CWD'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs a command to its end; resolves with its exit code and its stdout and stderr together. */
function run(cmd: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    child.stdout!.on('data', (b: Buffer) => { output += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { output += b.toString(); });
    child.once('error', reject);
    child.once('close', (code) => {
      children.delete(child);
      resolvePromise({ code, output });
    });
  });
}

/** Like `run`, but a non-zero exit fails with the command's output. */
async function runOk(cmd: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<string> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${options.cwd}) exited ${r.code}:\n${r.output}`);
  return r.output;
}

const timings: string[] = [];
async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const result = await fn();
  timings.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

/** The exec-form CMD and the ENV values of a Dockerfile's final stage. */
function dockerfile(path: string): { cmd: string[]; env: Record<string, string> } {
  const lines = readFileSync(path, 'utf8').split('\n');
  const stage = lines.slice(lines.findLastIndex((l) => /^FROM\s/.test(l)));
  const cmds = stage.filter((l) => /^CMD\s/.test(l));
  if (cmds.length !== 1) throw new Error(`expected one CMD in ${path}, found ${cmds.length}`);
  const env: Record<string, string> = {};
  for (const l of stage) {
    const m = /^ENV\s+([A-Z_][A-Z0-9_]*)=(\S+)\s*$/.exec(l);
    if (m) env[m[1]!] = m[2]!;
  }
  return { cmd: JSON.parse(cmds[0]!.replace(/^CMD\s+/, '')) as string[], env };
}

/** Starts a silo process the way the project's image does and resolves once it logged "silo ready". */
function startProjectSilo(cmd: string[], env: Record<string, string>): Promise<{ child: ChildProcess; ready: LogLine; logs: LogLine[] }> {
  const [script, ...args] = cmd;
  // The bin through this very node (process.execPath), so a Node 24 run tests Node 24.
  const child = spawn(process.execPath, [resolve(project, script!), ...args], { cwd: project, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const logs: LogLine[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolvePromise, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      buffered += b.toString();
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        try { logs.push(JSON.parse(line) as LogLine); } catch { /* not a log line */ }
        if (logs.at(-1)?.msg === 'silo ready') resolvePromise({ child, ready: logs.at(-1)!, logs });
      }
    });
    child.once('exit', (code) => reject(new Error(`the project's silo exited (${code}) before it was ready:\n${logs.map((l) => JSON.stringify(l)).join('\n')}\n${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'granary-first-use-'));
  const packed = await timed('npm pack', () => runOk('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO }));
  tarball = join(work, (JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string }[])[0]!.filename);
  project = join(work, 'my-app');
  await runOk(process.execPath, [join(REPO, 'dist/silo/cli.js'), 'init', project, '--granary', tarball], { cwd: work });
  await timed('npm install', () => runOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project }));
  await timed('npm run build', () => runOk('npm', ['run', 'build'], { cwd: project }));
}, 600_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const s of silos) if (s.child.exitCode === null && s.child.signalCode === null) { s.child.kill('SIGKILL'); await s.exited; }
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
  console.info(`first use on node ${process.version}: ${timings.join(', ')}`);
});

describe('a project made by granary init, on the packed package', () => {
  it('depends on the tarball, and its own npm test passes', async () => {
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string> };
    expect(pkg.name).toBe('my-app');
    expect(pkg.dependencies.granary).toBe(`file:${tarball}`);
    const out = await timed('npm test', () => runOk('npm', ['test'], { cwd: project }));
    expect(stripVTControlCharacters(out)).toMatch(/Tests\s+3 passed \(3\)/);
  }, 300_000);

  it('its silo process (the Dockerfile CMD, GRANARY_GRAINS) serves its grain over HTTP and stops on SIGTERM', async () => {
    const image = dockerfile(join(project, 'Dockerfile'));
    expect(image.cmd).toEqual(['node_modules/.bin/granary-silo']);
    expect(image.env.GRANARY_GRAINS).toBe('./dist/grains.js');
    const silo = await timed('silo start', () => startProjectSilo(image.cmd, {
      GRANARY_GRAINS: image.env.GRANARY_GRAINS!, GRANARY_HOST: '127.0.0.1', GRANARY_PORT: '0', GRANARY_DATA_DIR: join(work, 'silo-data'),
    }));
    expect(silo.ready.cluster).toBe('in-process');
    expect(silo.ready.grains).toEqual(['TodoList']);
    const url = `http://127.0.0.1:${silo.ready.port as number}`;
    expect(await post(url, '/grains/TodoList/alice/add', { args: ['buy milk'] })).toEqual({ status: 200, body: { result: { id: 1, text: 'buy milk', done: false } } });
    expect(await post(url, '/grains/TodoList/alice/items', { args: [] })).toEqual({ status: 200, body: { result: [{ id: 1, text: 'buy milk', done: false }] } });
    expect((await post(url, '/grains/Counter/a/get', {})).status).toBe(404); // only the project's grains
    silo.child.kill('SIGTERM');
    expect(await exited(silo.child)).toBe(0);
    expect(silo.logs.at(-1)?.msg).toBe('stopped');
  }, 120_000);

  it("another installed copy: the repository's silo refuses the project's grain module, naming both copies", async () => {
    // The module imports `granary` from the project's node_modules, a second copy beside this
    // checkout's. A grain of one copy cannot run in another (each has its own request context
    // and transactions), so the start fails and says which silo to run: the project's own
    // granary-silo, which the previous test runs.
    const p = await spawnSilo({ GRANARY_GRAINS: join(project, 'dist/grains.js'), GRANARY_STORAGE: 'memory' }, { waitReady: false });
    silos.push(p);
    expect((await p.exited).code).toBe(1);
    const detail = String(p.logs.find((l) => l.msg === 'silo failed to start')?.detail);
    expect(detail).toContain('TodoList extends Grain from another copy of granary');
    // Each copy is named by its package folder.
    expect(detail).toContain(`at ${join(project, 'node_modules', 'granary')}, not the one hosting it, at ${REPO}.`);
    expect(p.logs.some((l) => l.msg === 'silo ready')).toBe(false);
  }, 120_000);

  it('every export of the installed package resolves, with its types, from the project', async () => {
    const installed = join(project, 'node_modules', 'granary');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
    const subpaths = Object.keys(manifest.exports);
    expect(subpaths).toEqual(expect.arrayContaining(['.', './testing']));
    for (const [subpath, conditions] of Object.entries(manifest.exports)) {
      for (const [condition, target] of Object.entries(conditions)) {
        if (condition === 'granary-source') continue; // the repository's own sources, not shipped
        expect(existsSync(join(installed, target)), `${subpath} → ${condition}: ${target}`).toBe(true);
      }
    }
    // granary/workers imports cloudflare:workers, which only workerd has (the next test bundles it).
    const specifiers = subpaths.filter((s) => s !== './workers').map((s) => 'granary' + s.slice(1));
    const script = `
      const specifiers = ${JSON.stringify(specifiers)};
      const faces = {};
      for (const s of specifiers) faces[s] = Object.keys(await import(s)).length;
      const { Grain, Silo } = await import('granary');
      const { TestCluster } = await import('granary/testing');
      const { TodoList } = await import('./dist/grains.js');
      const silo = await Silo.start({ grains: [TodoList] });
      const added = await silo.getGrain(TodoList, 'carol').add('read');
      await silo.stop();
      console.log(JSON.stringify({ faces, added, grain: typeof Grain, testCluster: typeof TestCluster }));`;
    const out = await runOk(process.execPath, ['--input-type=module', '-e', script], { cwd: project });
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as { faces: Record<string, number>; added: unknown; grain: string; testCluster: string };
    for (const s of specifiers) expect(result.faces[s], `exports of ${s}`).toBeGreaterThan(0);
    expect(result).toMatchObject({ added: { id: 1, text: 'read', done: false }, grain: 'function', testCluster: 'function' });
  }, 120_000);

  it('the installed bins run: granary (help, init from the shipped templates) and granary-silo', async () => {
    const bin = join(project, 'node_modules', '.bin');
    const help = await run(process.execPath, [join(bin, 'granary'), '--help'], { cwd: work });
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/granary init <dir>/);
    const second = join(work, 'second-app');
    await runOk(process.execPath, [join(bin, 'granary'), 'init', second], { cwd: work });
    expect(readdirSync(second).sort()).toEqual(readdirSync(project).filter((f) => !['node_modules', 'package-lock.json', 'dist'].includes(f)).sort());
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    expect((JSON.parse(readFileSync(join(second, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies.granary).toBe(`^${version}`);
    // granary-silo with a bad setting: exit 2 naming it, which proves the bin starts the entry point.
    const bad = await run(process.execPath, [join(bin, 'granary-silo')], { cwd: project, env: userEnv({ GRANARY_PORT: 'eighty' }) });
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/GRANARY_PORT/);
  }, 120_000);

  it('its Worker (src/worker.ts, wrangler.toml) bundles as wrangler bundles it and serves its grain in workerd', async () => {
    const cfg = readWranglerConfig(join(project, 'wrangler.toml'));
    const outfile = join(work, 'worker', 'worker.js');
    // What wrangler does with `main`: one ES module, resolved with the Workers conditions
    // (the package's `workerd` export), cloudflare:* and the nodejs_compat node:* modules left as imports.
    const bundled = await timed('worker bundle', () => build({
      absWorkingDir: project, entryPoints: [cfg.main], outfile, bundle: true, format: 'esm', target: 'es2022',
      platform: 'browser', conditions: ['workerd', 'worker', 'browser'], mainFields: ['browser', 'module', 'main'],
      external: ['cloudflare:*', 'node:*'], keepNames: true, metafile: true, logLevel: 'silent',
    }));
    const inputs = Object.keys(bundled.metafile.inputs);
    expect(inputs.filter((p) => /node_modules\/granary\//.test(p)).length).toBeGreaterThan(0);
    expect(inputs.filter((p) => /node_modules\/(nats|dynalite|@hono\/node-server)\//.test(p))).toEqual([]);
    const mf = new Miniflare({
      modules: true, scriptPath: outfile, modulesRoot: join(work, 'worker'),
      compatibilityDate: cfg.compatibilityDate, compatibilityFlags: cfg.compatibilityFlags,
      durableObjects: Object.fromEntries(cfg.bindings.map((b) => [b.name, { className: b.className, useSQLite: cfg.sqliteClasses.includes(b.className) }])),
      bindings: cfg.vars, host: '127.0.0.1', port: 0,
    });
    try {
      const url = (await mf.ready).href.replace(/\/$/, '');
      expect(await post(url, '/grains/TodoList/dana/add', { args: ['ship it'] })).toEqual({ status: 200, body: { result: { id: 1, text: 'ship it', done: false } } });
      expect(await post(url, '/grains/TodoList/dana/items', { args: [] })).toEqual({ status: 200, body: { result: [{ id: 1, text: 'ship it', done: false }] } });
    } finally {
      await mf.dispose();
    }
  }, 120_000);
});

