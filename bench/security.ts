/**
 * What the security checks cost (issue 17), each beside the same work without them, in one run:
 *  - argument schemas: gateway throughput of `Counter.add` (zod `z.number().int()`) beside the
 *    same grain without schemas (target: ≥ 0.9×, i.e. validation costs ≤ 10 %);
 *  - the codec's checks: what they add to a local call with an object argument — decoding
 *    the argument with the checked codec beside an unchecked decoder (the codec before its
 *    checks), as a share of the whole call (target ≤ 3 %).
 */
import { z } from 'zod';
import { Grain, Silo } from 'granary';
import { decode, encode } from 'granary/internal';
import { figure, fmtRate, heading, paired, row } from './support.js';

class Checked extends Grain<{ value: number }> {
  static grainType = 'Checked';
  static schemas = { add: [z.number().int()], addAll: [z.object({ n: z.number().int(), tags: z.array(z.string()) })] };
  protected override initialState() { return { value: 0 }; }
  async add(n: number): Promise<number> { this.state.value += n; return this.state.value; }
  async addAll(p: { n: number; tags: string[] }): Promise<number> { this.state.value += p.n; return this.state.value; }
}

class Unchecked extends Grain<{ value: number }> {
  static grainType = 'Unchecked';
  protected override initialState() { return { value: 0 }; }
  async add(n: number): Promise<number> { this.state.value += n; return this.state.value; }
  async addAll(p: { n: number; tags: string[] }): Promise<number> { this.state.value += p.n; return this.state.value; }
}

/** The codec's decoder as it was before its checks: the baseline of their cost. */
function uncheckedFromWire(x: unknown): unknown {
  if (x === null || typeof x !== 'object') return x;
  if (Array.isArray(x)) { for (let i = 0; i < x.length; i++) x[i] = uncheckedFromWire(x[i]); return x; }
  const o = x as Record<string, unknown>;
  if (o.$ === undefined) { for (const k of Object.keys(o)) o[k] = uncheckedFromWire(o[k]); return o; }
  switch (o.$) {
    case 'undef': return undefined;
    case 'big': return BigInt(o.v as string);
    case 'date': return new Date(o.v as number);
    default: return o;
  }
}

const C = 16;

async function main(): Promise<void> {
  heading(`security checks (node ${process.version}; alternating rounds)`);
  const silo = await Silo.start({ grains: [Checked, Unchecked], gateway: { port: 0, host: '127.0.0.1' } });
  const url = silo.gateway!.url;
  const post = (type: string) => async () => {
    await Promise.all(Array.from({ length: C }, async () => {
      const r = await fetch(`${url}/grains/${type}/k/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"args":[1]}' });
      if (r.status !== 200) throw new Error(`${type}.add answered ${r.status}`);
      await r.arrayBuffer();
    }));
  };
  const gw = await paired({ name: 'schemas', ops: C, batch: post('Checked') }, { name: 'none', ops: C, batch: post('Unchecked') }, { ms: 400, rounds: 7 });
  row({ label: `gateway Counter.add with zod schema c${C}`, value: fmtRate(gw.a), limitLabel: 'same grain, no schema', limit: fmtRate(gw.b), ratios: gw.ratios, atLeast: 0.9 });

  // Local calls with an object argument (copied through the codec on the way in).
  const ref = silo.getGrain(Unchecked, 'local');
  const arg = { n: 1, tags: ['a', 'b', 'c'], at: new Date(0), big: 12n };
  const N = 5_000;
  const call = await paired(
    { name: 'call', ops: N, batch: async () => { for (let i = 0; i < N; i++) await ref.addAll(arg); } },
    { name: 'call', ops: N, batch: async () => { for (let i = 0; i < N; i++) await ref.addAll(arg); } },
    { rounds: 3 },
  );
  const text = encode([arg]);
  const M = 20_000;
  const dec = await paired(
    { name: 'checked decode', ops: M, batch: async () => { for (let i = 0; i < M; i++) decode(text); } },
    { name: 'unchecked decode', ops: M, batch: async () => { for (let i = 0; i < M; i++) uncheckedFromWire(JSON.parse(text)); } },
    { rounds: 9 },
  );
  // Per call: the checks cost (1/checked − 1/unchecked) seconds, against 1/call seconds.
  const shares = dec.ratios.map((r) => ((1 / (dec.b * r)) - 1 / dec.b) / (1 / call.a) * 100);
  console.log(`local call with an object argument: ${fmtRate(call.a)}; checked decode ${fmtRate(dec.a)} vs unchecked ${fmtRate(dec.b)}`);
  figure('codec checks, share of a local call (%)', shares, { fmt: (x) => `${x.toFixed(2)} %`, target: { atMost: 3 } });
  await silo.stop();
}

await main();
