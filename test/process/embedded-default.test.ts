/**
 * The embedded default of the container entry (`npm start`: no storage settings → dynalite
 * on disk under GRANARY_DATA_DIR): its endpoint is on loopback and serves only requests
 * signed with the key the silo made at start, so another local user who finds the port can
 * neither read nor write grain state through it. A real silo process, raw HTTP as an
 * intruder would send it, and the AWS SDK with the emulators' well-known credentials.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { raw } from '../gateway/helpers.js';
import { spawnSilo, type SiloProcess } from './silo-process.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const dataDir = mkdtempSync(join(tmpdir(), 'granary-embedded-default-'));
let p: SiloProcess;
let endpoint: URL;
let client: DynamoDBClient | undefined;

beforeAll(async () => {
  p = await spawnSilo({ GRANARY_DATA_DIR: join(dataDir, 'state') });
  const ready = await p.waitForLog((l) => l.msg === 'embedded dynalite ready');
  endpoint = new URL(ready.endpoint as string);
});
afterAll(async () => {
  client?.destroy();
  if (p && p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  rmSync(dataDir, { recursive: true, force: true });
});

/** One POST to the store's endpoint, as given. */
function post(headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: endpoint.hostname, port: Number(endpoint.port), method: 'POST', path: '/', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += String(d); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('embedded dynalite of npm start', () => {
  it('listens on loopback, keeps its store to the owner, and the silo uses it', async () => {
    expect(endpoint.hostname).toBe('127.0.0.1');
    expect(statSync(join(dataDir, 'state')).mode & 0o777).toBe(0o700);
    const r = await raw(p.port, 'POST', '/grains/Counter/embedded/add', { headers: { 'content-type': 'application/json' }, body: '{"args":[1]}' });
    expect({ status: r.status, body: r.json }).toEqual({ status: 200, body: { result: 1 } });
  });

  it('a request without the silo\'s key is refused: no reading, no writing', async () => {
    // A state of this test's own (the tests may run in any order).
    const wrote = await raw(p.port, 'POST', '/grains/Counter/guarded/add', { headers: { 'content-type': 'application/json' }, body: '{"args":[1]}' });
    expect(wrote.json).toEqual({ result: 1 });
    // What plain dynalite serves: any key id, any signature value.
    const put = {
      TableName: 'granary',
      Item: { pk: { S: 'Counter/guarded#state' }, version: { N: '99' }, payload: { S: '{"value":1000}' } },
    };
    const forged = await post({
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.PutItem',
      'x-amz-date': '20200101T000000Z',
      authorization: 'AWS4-HMAC-SHA256 Credential=granary/20200101/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000',
    }, JSON.stringify(put));
    expect(forged.status).toBe(400);
    expect(forged.text).toMatch(/UnrecognizedClientException/);

    // The SDK with the credentials every emulator accepts.
    client = new DynamoDBClient({ endpoint: endpoint.href, region: 'local', credentials: { accessKeyId: 'granary', secretAccessKey: 'granary' }, maxAttempts: 1 });
    await expect(client.send(new ListTablesCommand({}))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await expect(client.send(new PutItemCommand(put as never))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });

    // The grain's state is what the silo wrote, untouched.
    const r = await raw(p.port, 'POST', '/grains/Counter/guarded/get', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.json).toEqual({ result: 1 });
  });
});
