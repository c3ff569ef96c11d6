/**
 * The NATS provider's read-ahead (silo/nats/stream-tails.ts): once a key has been read with
 * items found, an ordered consumer keeps its latest items and answers reads and announces
 * appends. What it answers must be exactly what the direct gets would: appends from another
 * process, this process's own appends read at once, rewinds, retention.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { natsStreams } from 'granary';
import { NatsServer } from '../support/nats-server.js';

let server: NatsServer;
beforeAll(async () => { server = await NatsServer.start(); });
afterAll(async () => { await server?.stop(); });

let n = 0;
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => { await Promise.all(open.splice(0).map((p) => p.close())); });

/** Two providers on one cluster: two processes. */
function pair(retention?: number) {
  const name = `tail${process.pid}-${++n}`;
  const a = natsStreams({ servers: server.url, name, retention, storage: 'memory' });
  const b = natsStreams({ servers: server.url, name, retention, storage: 'memory' });
  open.push(a, b);
  return { a, b };
}

const seqs = (r: { items: readonly { seq: number }[] }) => r.items.map((i) => i.seq);

describe('NATS streams: reading ahead on an active key', () => {
  it('answers exactly what is stored: appends elsewhere, its own appends at once, rewinds', async () => {
    const { a, b } = pair();
    const heard: number[] = [];
    a.onAppend((ns, key, seq) => { if (ns === 'ns' && key === 'k' && seq > 0) heard.push(seq); });
    for (let i = 1; i <= 3; i++) await a.append('ns', 'k', String(i));
    expect(seqs(await a.read('ns', 'k', 1, 10))).toEqual([1, 2, 3]); // the key is active from here
    // Appends by another process: announced, then read.
    for (let i = 4; i <= 40; i++) await b.append('ns', 'k', String(i));
    await expect.poll(() => heard.includes(40), { timeout: 5_000 }).toBe(true);
    const r = await a.read('ns', 'k', 4, 100);
    expect(seqs(r)).toEqual(Array.from({ length: 37 }, (_, i) => i + 4));
    expect(r.items[36]!.payload).toBe('40');
    expect(r.last).toBe(40);
    // This process's own append is read at once.
    for (let i = 41; i <= 45; i++) {
      expect(await a.append('ns', 'k', String(i))).toBe(i);
      expect((await a.read('ns', 'k', i, 10)).items).toEqual([{ seq: i, payload: String(i) }]);
    }
    // A rewind, and a position past the end.
    expect((await a.read('ns', 'k', 2, 3)).items).toEqual([{ seq: 2, payload: '2' }, { seq: 3, payload: '3' }, { seq: 4, payload: '4' }]);
    expect((await a.read('ns', 'k', 46, 10)).items).toEqual([]);
    expect((await a.read('ns', 'k', Number.MAX_SAFE_INTEGER, 0)).last).toBe(45);
    // Every append was announced to the listener, each once at least.
    expect([...new Set(heard)].sort((x, y) => x - y)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
  }, 30_000);

  it('keeps to retention: items dropped while the key is active are not handed out', async () => {
    const { a, b } = pair(5);
    for (let i = 1; i <= 3; i++) await a.append('ns', 'r', String(i));
    expect(seqs(await a.read('ns', 'r', 1, 10))).toEqual([1, 2, 3]);
    for (let i = 4; i <= 12; i++) await b.append('ns', 'r', String(i));
    await expect.poll(async () => (await a.read('ns', 'r', 1, 100)).last, { timeout: 5_000 }).toBe(12);
    const r = await a.read('ns', 'r', 1, 100);
    expect(seqs(r)).toEqual([8, 9, 10, 11, 12]);
    expect(r.first).toBe(8);
  }, 30_000);
});
