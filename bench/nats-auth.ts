/**
 * What the trust model costs cross-silo calls: the same load as bench/nats-calls.ts (silo A in
 * this process calls `Echo.echo(s)` on silo B, a forked process) on three nats-servers side by
 * side, in alternating rounds:
 *  - open: no users, no permissions (the dev setup);
 *  - permissions: deploy/nats/nats.conf (separate users, subject permissions), silos as granary-silo;
 *  - permissions + key: the same, and silo-to-silo frames signed with a cluster key (HMAC header).
 * Target (issue 17): permissions change throughput by at most 5 % (ratio ≥ 0.95 at every
 * concurrency); the key's cost is shown beside it. No TLS on any: its cost is the transport's.
 */
import { Grain, Silo, memoryStorage, natsCluster, type NatsClusterOptions } from 'granary';
import { shippedConfigEnv, shippedNatsConfig } from '../test/support/shipped-nats-config.js';
import { NatsServer, closedLoop, forkRole, ms, workerRole, type LoadResult } from './_nats-support.js';
import { fmtRate, heading, median, spread, verdict } from './support.js';

export class Echo extends Grain {
  async echo(s: string): Promise<string> { return s; }
}
class Nothing extends Grain {}

const ARG = 'x'.repeat(64);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MS = Number(process.env.BENCH_MS ?? 1000);
/** The shipped config is for the default cluster name. */
const CLUSTER = 'granary';
const PASSWORDS = { silo: 'bench-silo-password', client: 'bench-client-password' };
const KEY = 'bench-cluster-key-0123456789';

type Variant = 'open' | 'permissions' | 'permissions + key';
const VARIANTS: Variant[] = ['open', 'permissions', 'permissions + key'];

function options(variant: Variant, url: string): NatsClusterOptions {
  if (variant === 'open') return { servers: url, name: CLUSTER };
  return { servers: url, name: CLUSTER, user: 'granary-silo', pass: PASSWORDS.silo, ...(variant === 'permissions + key' ? { clusterKey: KEY } : {}) };
}

const worker = workerRole<{ variant: Variant; url: string }>();
if (worker?.role === 'callee') {
  const silo = await Silo.start({ grains: [Echo], cluster: natsCluster(options(worker.args.variant, worker.args.url)), storage: memoryStorage() });
  process.send!({ silo: silo.id });
  process.on('disconnect', () => process.exit(0));
} else if (worker === undefined) {
  await main();
}

async function main(): Promise<void> {
  const servers = await Promise.all(VARIANTS.map((v) => (v === 'open'
    ? NatsServer.start()
    : NatsServer.start({ config: shippedNatsConfig(), env: shippedConfigEnv(PASSWORDS) }))));
  const callees = await Promise.all(VARIANTS.map((variant, i) => forkRole<{ silo: string }>(import.meta.url, 'callee', { variant, url: servers[i]!.url })));
  const callers = await Promise.all(VARIANTS.map((v, i) => Silo.start({ grains: [Nothing], cluster: natsCluster(options(v, servers[i]!.url)), storage: memoryStorage() })));
  try {
    const refs = callers.map((caller) => Array.from({ length: 256 }, (_, i) => caller.getGrain<Echo>('Echo', `k${i}`)));
    for (const r of refs) for (let i = 0; i < 4; i++) await Promise.all(r.map((x) => x.echo(ARG))); // activate on B, warm up
    callers.forEach((caller, i) => {
      if (caller.router.caller.cache.get('Echo/k0') !== callees[i]!.ready.silo) throw new Error(`${VARIANTS[i]}: Echo/k0 is not on the callee silo`);
    });

    heading(`cross-silo grain calls: open server vs deploy/nats/nats.conf (${ROUNDS} rotating ${MS} ms rounds; medians, ratios to open as median (min–max))`);
    console.log('conc   open calls/s   p50        | permissions calls/s  p50        ratio                 | + key calls/s   p50        ratio');
    for (const c of [1, 16, 256]) {
      const rounds: LoadResult[][] = VARIANTS.map(() => []);
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate the order each round, so no variant always runs first (or last) on a busy machine.
        for (let k = 0; k < VARIANTS.length; k++) {
          const v = (round + k) % VARIANTS.length;
          rounds[v]!.push(await closedLoop(c, MS, (w) => refs[v]![w]!.echo(ARG)));
        }
      }
      const rate = (v: number) => median(rounds[v]!.map((r) => r.rate));
      const p50 = (v: number) => median(rounds[v]!.map((r) => r.p50));
      const ratios = (v: number) => rounds[v]!.map((r, i) => r.rate / rounds[0]![i]!.rate);
      console.log(
        `${String(c).padStart(4)}   ${fmtRate(rate(0)).padStart(10)}   ${ms(p50(0)).padStart(9)}  | ${fmtRate(rate(1)).padStart(12)}   ${ms(p50(1)).padStart(9)}  ${spread(ratios(1)).padEnd(21)} | ${fmtRate(rate(2)).padStart(10)}   ${ms(p50(2)).padStart(9)}  ${spread(ratios(2))}`,
      );
      console.log(`       permissions ${verdict(ratios(1), { atLeast: 0.95 })}; errors (not in the rates): ${rounds.map((r, v) => `${VARIANTS[v]} ${r.reduce((n, x) => n + x.errors, 0)}`).join(', ')}`);
    }
  } finally {
    await Promise.all(callers.map((c) => c.stop()));
    await Promise.all(callees.map((c) => c.kill('SIGTERM')));
    await Promise.all(servers.map((s) => s.stop()));
  }
}
