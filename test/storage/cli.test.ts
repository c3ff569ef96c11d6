/**
 * The `granary` CLI as a real process (bundled from silo/cli.ts with esbuild, so it runs
 * without a prior build) against dynalite.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamoStorage, type DynamoStorage } from 'granary';
import { freePort, startDynalite, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';

// Inside the repository, so the bundle's bare imports (the AWS SDK) resolve from node_modules.
const outDir = join(process.cwd(), 'node_modules', '.cache', 'granary-test', `cli-${process.pid}`);
const cli = join(outDir, 'cli.mjs');
let db: DynamoEndpoint;
const opened: DynamoStorage[] = [];

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  await build({ entryPoints: ['silo/cli.ts'], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: cli, logLevel: 'error' });
  db = await startDynalite();
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await db?.close();
  rmSync(outDir, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += String(d); });
    child.stderr.on('data', (d) => { stderr += String(d); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('granary CLI', () => {
  it('create-table creates the table (ACTIVE, PAY_PER_REQUEST), then finds it exists', async () => {
    const table = uniqueTable('cli');
    const first = await run(['create-table', '--table', table, '--endpoint', db.endpoint, '--region', 'local']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toBe(`table "${table}" at ${db.endpoint} created; it is ACTIVE\n`);
    const s = dynamoStorage({ table, endpoint: db.endpoint, region: 'local' });
    opened.push(s);
    const t = (await s.client.send(new DescribeTableCommand({ TableName: table }))).Table!;
    expect(t.TableStatus).toBe('ACTIVE');
    expect(t.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    await s.checkTable();
    // Idempotent; and the environment variables work in place of the flags.
    const again = await run(['create-table'], { GRANARY_DYNAMODB_TABLE: table, GRANARY_DYNAMODB_ENDPOINT: db.endpoint, AWS_REGION: 'local' });
    expect(again).toMatchObject({ code: 0, stdout: `table "${table}" at ${db.endpoint} already exists; it is ACTIVE\n` });
    const check = await run(['check-table', '--table', table, '--endpoint', db.endpoint, '--region', 'local']);
    expect(check).toMatchObject({ code: 0, stdout: `table "${table}" at ${db.endpoint} is ACTIVE and fits granary\n` });
  });

  it('check-table on a missing table exits 1 and says how to create it', async () => {
    const table = uniqueTable('cli_missing');
    const r = await run(['check-table', '--table', table, '--endpoint', db.endpoint, '--region', 'local']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`granary create-table --table ${table} --endpoint ${db.endpoint} --region local`);
  });

  it('an unreachable endpoint exits 1 naming it; bad usage exits 2 with the usage', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const down = await run(['create-table', '--table', 'granary_cli', '--endpoint', endpoint, '--region', 'local']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`DynamoDB at ${endpoint} is unreachable (ECONNREFUSED`);
    const noTable = await run(['create-table', '--endpoint', endpoint]);
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toContain('--table is required');
    expect(noTable.stderr).toContain('usage:');
    const unknown = await run(['drop-everything']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "drop-everything"');
  });
});
