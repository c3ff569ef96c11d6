/**
 * The entry point's storage settings as real processes: the embedded dynalite default keeps
 * state across a restart; a DynamoDB table (here a dynalite server the test runs) is
 * created by the compose file's own table-creation command, or by
 * GRANARY_DYNAMODB_CREATE_TABLE=1, and a missing one fails the start saying how to create it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startEmbeddedDynalite, type EmbeddedDynalite } from '../../silo/dynamodb/index.js';
import { REPO, cleanEnv, post, spawnSilo, type SiloProcess } from './silo-process.js';
import { readFileSync } from 'node:fs';

const started: SiloProcess[] = [];
const dirs: string[] = [];
let dynamo: EmbeddedDynalite;

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'granary-store-'));
  dirs.push(d);
  return d;
}

async function silo(env: Record<string, string>, options?: { waitReady?: boolean }): Promise<SiloProcess> {
  const p = await spawnSilo(env, options);
  started.push(p);
  return p;
}

beforeAll(async () => {
  dynamo = await startEmbeddedDynalite({ dir: tempDir() });
});

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  await dynamo?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('storage from the environment', () => {
  it('the embedded default (dynalite under GRANARY_DATA_DIR) keeps state across a restart', async () => {
    const dataDir = tempDir();
    const first = await silo({ GRANARY_DATA_DIR: dataDir });
    expect(first.logs.find((l) => l.msg === 'silo ready')?.storage).toBe('dynamodb:granary');
    expect((await post(first.url, '/grains/Counter/kept/add', { args: [3] })).body).toEqual({ result: 3 });
    expect((await first.signal('SIGTERM')).code).toBe(0);

    const second = await silo({ GRANARY_DATA_DIR: dataDir });
    expect((await post(second.url, '/grains/Counter/kept/get', {})).body).toEqual({ result: 3 });
    expect((await second.signal('SIGTERM')).code).toBe(0);
  });

  it('a missing table fails the start (exit 1) with the command that creates it', async () => {
    const p = await silo({ GRANARY_DYNAMODB_TABLE: 'absent', GRANARY_DYNAMODB_ENDPOINT: dynamo.endpoint }, { waitReady: false });
    expect((await p.exited).code).toBe(1);
    const failure = p.logs.find((l) => l.msg === 'silo failed to start');
    expect(String(failure?.detail)).toMatch(/absent.*granary create-table/);
  });

  it('GRANARY_DYNAMODB_CREATE_TABLE=1 creates the table at start', async () => {
    const p = await silo({ GRANARY_DYNAMODB_TABLE: 'made-at-start', GRANARY_DYNAMODB_ENDPOINT: dynamo.endpoint, GRANARY_DYNAMODB_CREATE_TABLE: '1' });
    expect(p.logs.some((l) => l.msg === 'table created' && l.table === 'made-at-start')).toBe(true);
    expect((await post(p.url, '/grains/Counter/x/add', { args: [1] })).body).toEqual({ result: 1 });
    expect((await p.signal('SIGTERM')).code).toBe(0);
  });

  it("compose's table-creation step, then silos on that table share state", async () => {
    const compose = parse(readFileSync(join(REPO, 'deploy', 'compose.yaml'), 'utf8'), { merge: true });
    const step = compose.services['create-table'];
    const env = { ...step.environment, GRANARY_DYNAMODB_ENDPOINT: dynamo.endpoint } as Record<string, string>;
    const [cmd, ...args] = step.command as string[];
    const child = spawn(cmd!, args, { cwd: REPO, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code, out).toBe(0);
    expect(out).toMatch(/table "granary" .* created; it is ACTIVE/);

    const siloEnv = { GRANARY_DYNAMODB_TABLE: env.GRANARY_DYNAMODB_TABLE!, GRANARY_DYNAMODB_ENDPOINT: dynamo.endpoint, AWS_REGION: env.AWS_REGION! };
    const a = await silo(siloEnv);
    expect((await post(a.url, '/grains/Counter/shared/add', { args: [5] })).body).toEqual({ result: 5 });
    expect((await a.signal('SIGTERM')).code).toBe(0);
    const b = await silo(siloEnv);
    expect((await post(b.url, '/grains/Counter/shared/add', { args: [1] })).body).toEqual({ result: 6 });
    expect((await b.signal('SIGTERM')).code).toBe(0);
  });
});
