/**
 * The bank invariant in a real multi-process cluster: entry-point silo processes (the
 * Dockerfile's CMD) on a real nats-server, DynamoDB storage on a dynalite process, 8 NATS
 * clients in this process. A silo is SIGKILLed and a new one started, twice, mid-run.
 * Needs a build (`npm run build`): the processes run dist/silo/main.js.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { GrainClient } from 'granary';
import { Account } from '../../grains/index.js';
import { NatsServer } from '../support/nats-server.js';
import { startDynaliteProcess, uniqueTable, type DynamoEndpoint } from '../support/dynamodb.js';
import { spawnSilo, type SiloProcess } from '../process/silo-process.js';
import { readBank, runBank, verifyBank } from './bank-run.js';

let nats: NatsServer;
let db: DynamoEndpoint;
const silos: SiloProcess[] = [];
const clients: GrainClient[] = [];
const cluster = `txn${process.pid}`;
let env: Record<string, string>;

beforeAll(async () => {
  nats = await NatsServer.start();
  db = await startDynaliteProcess();
  env = {
    GRANARY_NATS_URL: nats.url,
    GRANARY_CLUSTER: cluster,
    GRANARY_STORAGE: 'dynamodb',
    GRANARY_DYNAMODB_TABLE: uniqueTable('granary_txnproc'),
    GRANARY_DYNAMODB_ENDPOINT: db.endpoint,
    GRANARY_DYNAMODB_CREATE_TABLE: '1',
    AWS_REGION: 'local',
  };
  silos.push(await spawnSilo(env)); // creates the table
  silos.push(...(await Promise.all([spawnSilo(env), spawnSilo(env)])));
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  for (const p of silos) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  await db?.close();
  await nats?.stop();
});

describe('transactions across silo processes on NATS and DynamoDB (dynalite)', () => {
  it('bank invariant: 20 accounts, 8 clients, 2000 transfers, 2 silos SIGKILLed and replaced', async () => {
    const transfers = 2_000;
    const keys = Array.from({ length: 20 }, (_, i) => `acct${i}`);
    const initial = 100;
    clients.push(...(await Promise.all(Array.from({ length: 8 }, () => GrainClient.connect({ nats: nats.url, cluster })))));
    const first = clients[0]!;
    await first.transaction(async () => {
      for (const k of keys) await first.getGrain(Account, k).deposit(initial);
    });
    const run = await runBank({
      clients,
      keys,
      transfers,
      timeoutMs: 4_000,
      crashAt: new Set([Math.floor(transfers / 3), Math.floor((2 * transfers) / 3)]),
      async crash(random) {
        const victim = silos.splice(Math.floor(random() * silos.length), 1)[0]!;
        victim.child.kill('SIGKILL');
        await victim.exited;
        silos.push(await spawnSilo(env));
      },
    });
    // Transactions whose coordinator died resolve at their deadline (at most 10 s + 2 s).
    const { final, ledger } = await readBank(first, keys, () => new Promise((r) => setTimeout(r, 500)), 60);
    verifyBank('processes', run, keys, initial, final, ledger, transfers);
  }, 180_000);
});
