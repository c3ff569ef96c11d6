/**
 * A cluster of entry-point processes (the Dockerfile's CMD) on a real nats-server: one
 * grain, one activation, whichever silo's gateway a call enters; a NATS client and the HTTP
 * client see the same grain; a silo that gets SIGTERM leaves and the others carry on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient } from 'granary';
import { Counter } from '../../grains/index.js';
import { NatsServer } from '../support/nats-server.js';
import { post, spawnSilo, type SiloProcess } from './silo-process.js';

let nats: NatsServer;
const silos: SiloProcess[] = [];
const cluster = `proc${process.pid}`;

beforeAll(async () => {
  nats = await NatsServer.start();
  const env = { GRANARY_NATS_URL: nats.url, GRANARY_CLUSTER: cluster, GRANARY_STORAGE: 'memory', GRANARY_DRAIN_TIMEOUT_MS: '8000' };
  silos.push(...(await Promise.all([spawnSilo(env), spawnSilo(env), spawnSilo(env)])));
});

afterAll(async () => {
  for (const p of silos) if (p.child.exitCode === null && p.child.signalCode === null) { p.child.kill('SIGKILL'); await p.exited; }
  await nats?.stop();
});

describe('entry-point processes on NATS', () => {
  it('every gateway reaches the one activation of a grain', async () => {
    // Counted as differences: the other tests (in any order) activate and call Counters too.
    const counts = () => Promise.all(silos.map(async (p) => {
      const text = await (await fetch(p.url + '/metrics')).text();
      return {
        activations: Number(/^granary_activations\{type="Counter"\} (\d+)$/m.exec(text)?.[1] ?? 0),
        inbound: Number(/^granary_calls_total\{source="inbound",type="Counter",method="add",outcome="ok"\} (\d+)$/m.exec(text)?.[1] ?? 0),
      };
    }));
    const before = await counts();
    const rounds = 3;
    let expected = 0;
    for (let round = 0; round < rounds; round++) {
      for (const p of silos) {
        expected += 1;
        expect(await post(p.url, '/grains/Counter/shared/add', { args: [1] })).toEqual({ status: 200, body: { result: expected } });
      }
    }
    const after = await counts();
    const hosts = after.map((c, i) => c.activations - before[i]!.activations);
    expect(hosts.reduce((a, b) => a + b, 0)).toBe(1);
    // Calls from the other silos' gateways arrived over NATS and were counted there.
    const hostIndex = hosts.indexOf(1);
    expect(after[hostIndex]!.inbound - before[hostIndex]!.inbound).toBe(rounds * (silos.length - 1));
  });

  it('a NATS client and the HTTP client see the same grain', async () => {
    const client = await GrainClient.connect({ nats: nats.url, cluster });
    const http = GrainClient.http(silos[0]!.url);
    try {
      expect(await client.getGrain(Counter, 'mixed').add(5)).toBe(5);
      expect(await http.getGrain(Counter, 'mixed').add(1)).toBe(6);
      expect(await client.getGrain(Counter, 'mixed').get()).toBe(6);
    } finally {
      await client.close();
      await http.close();
    }
  });

  it('SIGTERM: the silo leaves gracefully (exit 0) and the others keep serving', async () => {
    // Out of `silos` before it goes, so the other tests (in any order) use the silos still there.
    const leaving = silos.shift()!;
    const staying = silos;
    const { code } = await leaving.signal('SIGTERM');
    expect(code).toBe(0); // within the drain bound: the bound's cut exits 1
    for (const p of staying) {
      const r = await post(p.url, '/grains/Counter/after-leave/add', { args: [1] });
      expect(r.status).toBe(200);
    }
    expect(await post(staying[0]!.url, '/grains/Counter/after-leave/get', {})).toEqual({ status: 200, body: { result: 2 } });
  });
});
