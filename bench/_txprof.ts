import { Grain, GrainClient, Silo, jsonLogger, memoryCluster, memoryStorage, type TransactionalState } from 'granary';
class Account extends Grain {
  static grainType = 'Account';
  static transactions = { deposit: 'join', withdraw: 'join' } as const;
  private readonly bal: TransactionalState<number> = this.transactionalState('balance', () => 0);
  async deposit(n: number) { await this.bal.update((b) => b + n); }
  async withdraw(n: number) { await this.bal.update((b) => { if (b < n) throw new Error('insufficient funds'); return b - n; }); }
}
const cluster = memoryCluster();
const silo = await Silo.start({ grains: [Account], cluster, storage: memoryStorage(), logger: jsonLogger({ level: 'error' }) });
const client = await GrainClient.connect({ cluster });
await client.transaction(async () => { await client.getGrain(Account, 'a').deposit(1e9); await client.getGrain(Account, 'b').deposit(1e9); });
const t0 = performance.now(); let n = 0;
while (performance.now() - t0 < 4000) {
  await client.transaction(async () => { await client.getGrain(Account, 'a').withdraw(1); await client.getGrain(Account, 'b').deposit(1); });
  n++;
}
console.log(n / 4, 'txn/s');
await client.close(); await silo.stop();
