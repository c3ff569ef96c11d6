/**
 * Local grain call throughput beside its floor, in one process:
 *  - a plain `await obj.m(x)` loop (measured first, before AsyncLocalStorage is ever used);
 *  - an AsyncLocalStorage.run + per-object promise-mailbox loop: the floor of a local grain
 *    call on Node 20 (PERF-NOTES);
 *  - Granary: `await ref.add(1)` sequentially, and 1,000 grains called concurrently.
 * Target: Granary ≥ 0.7× the ALS + mailbox loop in every round.
 * Also: how long `TestCluster.start({ silos: 3 })` takes (target ≤ 500 ms in every round):
 * a test cluster should cost a test nothing noticeable.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import { Grain, Silo, TestCluster } from 'granary';
import { scopeStorage } from 'granary/internal';
import { figure, fmtMs, fmtRate, heading, paired, row, throughput } from './support.js';

class Plain {
  value = 0;
  async add(n: number): Promise<number> { this.value += n; return this.value; }
}

class Adder extends Grain<{ value: number }> {
  protected override initialState() { return { value: 0 }; }
  async add(n: number): Promise<number> { this.state.value += n; return this.state.value; }
  async addAll(p: { n: number; tags: string[] }): Promise<number> { this.state.value += p.n; return this.state.value; }
}

/** The floor: ALS context per call and a promise-chain mailbox per object. */
class MailboxObject {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(private readonly target: Plain, private readonly als: AsyncLocalStorage<object>) {}
  add(n: number): Promise<number> {
    const run = () => this.als.run({ ctx: undefined, ctxShared: false, grain: 'x', parent: undefined, remoteChain: undefined, txn: undefined }, () => this.target.add(n));
    const p = this.tail.then(run, run);
    this.tail = p;
    return p;
  }
}

const SEQ = 10_000;
const FANOUT = 1_000;

async function main(): Promise<void> {
  heading(`local calls (node ${process.version}; ${SEQ} sequential calls per batch, ${FANOUT} grains concurrently; medians of alternating rounds)`);
  const plain = new Plain();
  const plainBatch = async () => { for (let i = 0; i < SEQ; i++) await plain.add(1); };
  const plainBefore = await throughput('plain await obj.m()', SEQ, plainBatch);

  // The floor uses granary's own AsyncLocalStorage: on Node 20 every ALS instance adds
  // work to every promise, so a second instance would slow both sides alike.
  const als = scopeStorage as unknown as AsyncLocalStorage<object>;
  const boxes = Array.from({ length: FANOUT }, () => new MailboxObject(new Plain(), als));

  const silo = await Silo.start({ grains: [Adder] });
  const refs = Array.from({ length: FANOUT }, (_, i) => silo.getGrain(Adder, `g${i}`));
  await Promise.all(refs.map((r) => r.add(0)));

  const seq = await paired(
    { name: 'granary', ops: SEQ, batch: async () => { const r = refs[0]!; for (let i = 0; i < SEQ; i++) await r.add(1); } },
    { name: 'floor', ops: SEQ, batch: async () => { const b = boxes[0]!; for (let i = 0; i < SEQ; i++) await b.add(1); } },
  );
  const par = await paired(
    { name: 'granary', ops: FANOUT * 10, batch: async () => { for (let r = 0; r < 10; r++) await Promise.all(refs.map((g) => g.add(1))); } },
    { name: 'floor', ops: FANOUT * 10, batch: async () => { for (let r = 0; r < 10; r++) await Promise.all(boxes.map((b) => b.add(1))); } },
  );
  // What keeping caller and callee apart costs: an object argument is copied through the
  // codec; primitive arguments are passed as they are.
  const arg = { n: 1, tags: ['a', 'b'] };
  const copying = await paired(
    { name: 'object arg', ops: SEQ, batch: async () => { const r = refs[1]!; for (let i = 0; i < SEQ; i++) await r.addAll(arg); } },
    { name: 'primitive arg', ops: SEQ, batch: async () => { const r = refs[1]!; for (let i = 0; i < SEQ; i++) await r.add(1); } },
  );
  const plainAfter = await throughput('plain await (after ALS is on)', SEQ, plainBatch);
  await silo.stop();

  row({ label: 'granary local call, sequential', value: fmtRate(seq.a), limitLabel: 'ALS + mailbox loop', limit: fmtRate(seq.b), ratios: seq.ratios, atLeast: 0.7 });
  row({ label: 'granary local call, 1000 grains concurrent', value: fmtRate(par.a), limitLabel: 'ALS + mailbox, 1000 objects', limit: fmtRate(par.b), ratios: par.ratios, atLeast: 0.7 });
  row({ label: 'local call with an object argument (copied)', value: fmtRate(copying.a), limitLabel: 'same call, primitive argument', limit: fmtRate(copying.b), ratios: copying.ratios });
  // Not alternated (plain await is measured before ALS is ever used): ratios of the medians' rounds.
  row({ label: 'granary local call, sequential', value: fmtRate(seq.a), limitLabel: 'plain await obj.m() (no ALS yet)', limit: fmtRate(plainBefore.opsPerSec), ratios: plainBefore.samples.map((p) => seq.a / p) });
  row({ label: 'plain await after ALS is in use', value: fmtRate(plainAfter.opsPerSec), limitLabel: 'plain await before', limit: fmtRate(plainBefore.opsPerSec), ratios: plainAfter.samples.map((p, i) => p / plainBefore.samples[i]!) });

  // A test cluster's start (the tests' fixture): memory cluster, fake clock, 3 silos.
  const starts: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const c = await TestCluster.start({ silos: 3, grains: [Adder] });
    starts.push(performance.now() - t0);
    await c.stop();
  }
  figure('TestCluster.start({ silos: 3 })', starts.slice(2), { fmt: fmtMs, target: { atMost: 500 }, note: '(2 warm-up starts left out)' });
}

await main();
