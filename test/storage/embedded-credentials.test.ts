/**
 * The embedded dynalite with `credentials`: only requests signed with them are served
 * (dynalite alone checks that a signature is present, not its value). Real dynalite on
 * disk, the real AWS SDK, and raw HTTP for what the SDK would not send.
 */
import { statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { grainId } from '../../runtime/index.js';
import { dynamoStorage, startEmbeddedDynalite, type DynamoStorage, type EmbeddedDynalite } from '../../silo/dynamodb/index.js';
import { signRequest } from '../../silo/dynamodb/sigv4.js';
import { tempDir, uniqueTable } from '../support/dynamodb.js';

const tmp = tempDir('granary-embedded-creds-');
let db: EmbeddedDynalite;
let storage: DynamoStorage;
const clients: DynamoDBClient[] = [];

beforeAll(async () => {
  db = await startEmbeddedDynalite({ dir: join(tmp.dir, 'store', 'dynamodb'), credentials: 'random' });
  storage = dynamoStorage({ table: uniqueTable('embedded'), endpoint: db.endpoint, region: 'local', credentials: db.credentials, maxAttempts: 1 });
  await storage.ensureTable();
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await storage?.close();
  await db?.close();
  tmp.remove();
});

function sdkWith(credentials: { accessKeyId: string; secretAccessKey: string }): DynamoDBClient {
  const c = new DynamoDBClient({ endpoint: db.endpoint, region: 'local', credentials, maxAttempts: 1 });
  clients.push(c);
  return c;
}

/** One POST to the endpoint exactly as given. */
function post(headers: Record<string, string>, body: string): Promise<{ status: number; json: { __type?: string; TableNames?: string[] } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: db.port, method: 'POST', path: '/', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += String(d); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || '{}') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const LIST_TABLES = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' };

describe('embedded dynalite with credentials', () => {
  it('listens on loopback, with a fresh key per start, and keeps its directories to the owner', async () => {
    expect(new URL(db.endpoint).hostname).toBe('127.0.0.1');
    expect(db.credentials?.accessKeyId).toMatch(/^granary-[0-9a-f]{20}$/);
    expect(db.credentials?.secretAccessKey.length).toBeGreaterThanOrEqual(40);
    const other = await startEmbeddedDynalite({ dir: join(tmp.dir, 'other'), credentials: 'random' });
    try {
      expect(other.credentials!.secretAccessKey).not.toBe(db.credentials!.secretAccessKey);
    } finally {
      await other.close();
    }
    expect(statSync(join(tmp.dir, 'store')).mode & 0o777).toBe(0o700);
    expect(statSync(db.dir).mode & 0o777).toBe(0o700);
  });

  it('serves the storage client that holds the credentials', async () => {
    const id = grainId('Counter', 'signed');
    const etag = await storage.write(id, 'state', '{"n":1}', undefined);
    expect(await storage.read(id, 'state')).toEqual({ payload: '{"n":1}', etag });
  });

  it('refuses a request without a signature, with a made-up one, or signed with other keys', async () => {
    const unsigned = await post(LIST_TABLES, '{}');
    expect(unsigned.status).toBe(400);
    expect(unsigned.json.__type).toMatch(/#MissingAuthenticationTokenException$/);

    // What dynalite alone accepts: any key id, any signature value.
    const madeUp = await post({
      ...LIST_TABLES,
      'x-amz-date': '20200101T000000Z',
      authorization: `AWS4-HMAC-SHA256 Credential=${db.credentials!.accessKeyId}/20200101/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
    }, '{}');
    expect(madeUp.status).toBe(400);
    expect(madeUp.json.__type).toMatch(/#InvalidSignatureException$/);

    await expect(sdkWith({ accessKeyId: 'granary', secretAccessKey: 'granary' }).send(new ListTablesCommand({})))
      .rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await expect(sdkWith({ accessKeyId: db.credentials!.accessKeyId, secretAccessKey: 'guessed' }).send(new ListTablesCommand({})))
      .rejects.toMatchObject({ name: 'InvalidSignatureException' });
    // The right keys through the SDK: served.
    const listed = await sdkWith(db.credentials!).send(new ListTablesCommand({}));
    expect(listed.TableNames).toContain(storage.table);
  });

  it('a signed request replayed with another body is refused', async () => {
    const headers = await signRequest(db.credentials!, { host: '127.0.0.1', port: db.port, headers: LIST_TABLES, body: '{}' });
    expect((await post(headers, '{}')).status).toBe(200);
    const swapped = await post(headers, '{"Limit":1}');
    expect(swapped.status).toBe(400);
    expect(swapped.json.__type).toMatch(/#InvalidSignatureException$/);
  });

  it('without credentials it serves any signed request, as dynalite does', async () => {
    const open = await startEmbeddedDynalite({ dir: join(tmp.dir, 'open') });
    try {
      expect(open.credentials).toBeUndefined();
      const c = new DynamoDBClient({ endpoint: open.endpoint, region: 'local', credentials: { accessKeyId: 'anyone', secretAccessKey: 'anything' }, maxAttempts: 1 });
      clients.push(c);
      expect((await c.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    } finally {
      await open.close();
    }
  });
});
