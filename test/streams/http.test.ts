/**
 * Streams over HTTP on a real silo gateway: POST publishes, GET is Server-Sent Events with
 * `id:` = seq, resumable with `Last-Event-ID`; GrainClient.http's subscription (fetch
 * streaming), raw fetch, and a real browser's EventSource (Chromium through playwright-core).
 * Behind the gateway's token; bad names and items are refused with nothing appended.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrainClient, Silo, memoryStorage, type StreamItemMeta } from 'granary';
import { ChatArchive, Listener, Publisher } from './grains.js';

const TOKEN = 'stream-test-token';
let silo: Silo;
let open: Silo;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  silo = await Silo.start({ grains: [ChatArchive, Listener, Publisher], storage: memoryStorage(), gateway: { port: 0, host: '127.0.0.1', token: TOKEN } });
  open = await Silo.start({ grains: [ChatArchive, Listener, Publisher], storage: memoryStorage(), gateway: { port: 0, host: '127.0.0.1' } });
});
afterAll(async () => {
  await silo?.stop();
  await open?.stop();
});

/** Reads SSE events from a fetch response until `n` items came (or the stream ends). */
async function readEvents(res: Response, n: number): Promise<Array<{ id: string; data: string }>> {
  const out: Array<{ id: string; data: string }> = [];
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  while (out.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) !== -1) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const id = /^id: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (id !== undefined && data !== undefined) out.push({ id, data });
    }
  }
  await reader.cancel();
  return out;
}

describe('streams over HTTP', () => {
  it('POST publishes ({"item"} → {"seq"}) and the implicit subscriber gets it', async () => {
    const url = `${silo.gateway!.url}/streams/chat/http-room`;
    const post = (item: unknown) => fetch(url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ item }) });
    const r1 = await post({ text: 'hi' });
    expect(r1.status).toBe(200);
    expect(await r1.json()).toEqual({ seq: 1 });
    expect(await (await post({ text: 'there' })).json()).toEqual({ seq: 2 });
    const archive = silo.getGrain(ChatArchive, 'http-room');
    await expect.poll(async () => (await archive.got()).map((g) => g.item)).toEqual([{ text: 'hi' }, { text: 'there' }]);
  });

  it('GET is an event stream with id = seq; ?from= replays; Last-Event-ID resumes after it', async () => {
    const c = GrainClient.http(silo.gateway!.url, { headers: auth });
    for (const i of [1, 2, 3, 4]) await c.getStream('ticks', 'sse').publish(i);
    const url = `${silo.gateway!.url}/streams/ticks/sse`;
    const res = await fetch(`${url}?from=2`, { headers: { ...auth, accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await readEvents(res, 3)).toEqual([{ id: '2', data: '2' }, { id: '3', data: '3' }, { id: '4', data: '4' }]);
    // A reconnect sends the last id it got: the stream goes on after it, whatever ?from says.
    const resumed = await fetch(`${url}?from=1`, { headers: { ...auth, 'last-event-id': '3' } });
    const pending = readEvents(resumed, 2);
    await c.getStream('ticks', 'sse').publish(5);
    expect(await pending).toEqual([{ id: '4', data: '4' }, { id: '5', data: '5' }]);
    await c.close();
  });

  it('GrainClient.http publishes and subscribes, rich values included', async () => {
    const c = GrainClient.http(silo.gateway!.url, { headers: auth });
    const s = c.getStream<{ at: Date; n: bigint }>('rich', 'k');
    expect(await s.publish({ at: new Date(1), n: 1n })).toEqual({ seq: 1 });
    const got: Array<[unknown, StreamItemMeta]> = [];
    const sub = await s.subscribe((item, meta) => { got.push([item, meta]); }, { from: 1 });
    await s.publish({ at: new Date(2), n: 2n });
    await expect.poll(() => got.length).toBe(2);
    expect(got[1]).toEqual([{ at: new Date(2), n: 2n }, { namespace: 'rich', key: 'k', seq: 2 }]);
    // A new-items-only subscription sees only what comes after it.
    const later: unknown[] = [];
    const sub2 = await s.subscribe((item) => { later.push(item); });
    await s.publish({ at: new Date(3), n: 3n });
    await expect.poll(() => later.length).toBe(1);
    await sub.close();
    await sub2.close();
    await c.close();
  });

  it('is behind the gateway token', async () => {
    const url = `${silo.gateway!.url}/streams/chat/guarded`;
    const post = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"item":1}' });
    expect(post.status).toBe(401);
    const get = await fetch(url);
    expect(get.status).toBe(401);
    const c = GrainClient.http(silo.gateway!.url);
    await expect(c.getStream('chat', 'guarded').publish(1)).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(c.getStream('chat', 'guarded').subscribe(() => {})).rejects.toMatchObject({ code: 'unauthorized' });
    // Nothing was appended.
    const ok = GrainClient.http(silo.gateway!.url, { headers: auth });
    expect(await ok.getStream('chat', 'guarded').publish(1)).toEqual({ seq: 1 });
  });

  it('refuses bad names, bodies and items with 4xx and appends nothing', async () => {
    const base = silo.gateway!.url;
    const post = (path: string, body: string, type = 'application/json') => fetch(`${base}${path}`, { method: 'POST', headers: { ...auth, 'content-type': type }, body });
    expect((await post('/streams/a.b/k', '{"item":1}')).status).toBe(400);
    expect((await post('/streams/chat/k%00x', '{"item":1}')).status).toBe(400);
    expect((await post('/streams/chat/bad', '{"items":1}')).status).toBe(400);
    expect((await post('/streams/chat/bad', 'nope')).status).toBe(400);
    expect((await post('/streams/chat/bad', '{"item":1}', 'text/plain')).status).toBe(415);
    const big = await post('/streams/chat/bad', JSON.stringify({ item: 'x'.repeat(300 * 1024) }));
    expect(big.status).toBe(400);
    expect(((await big.json()) as { error: { message: string } }).error.message).toMatch(/over the limit/);
    expect((await fetch(`${base}/streams/chat/bad?from=0`, { headers: auth })).status).toBe(400);
    expect((await fetch(`${base}/streams/chat/bad`, { method: 'PUT', headers: auth })).status).toBe(405);
    expect(await (await post('/streams/chat/bad', '{"item":"first"}')).json()).toEqual({ seq: 1 });
  });

  it.runIf(existsSync('/usr/bin/chromium'))('a browser\'s EventSource receives retained and live items with their ids', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const base = open.gateway!.url;
      const c = GrainClient.http(base);
      await c.getStream('browser', 'b1').publish({ n: 1 });
      await c.getStream('browser', 'b1').publish({ n: 2 });
      const page = await browser.newPage();
      await page.goto(`${base}/healthz`); // same origin as the stream
      await page.evaluate(() => {
        const w = globalThis as unknown as { got: Array<{ id: string; data: string }>; es: EventSource };
        w.got = [];
        w.es = new EventSource('/streams/browser/b1?from=1');
        w.es.onmessage = (e) => w.got.push({ id: e.lastEventId, data: e.data });
      });
      const got = () => page.evaluate(() => (globalThis as unknown as { got: unknown[] }).got);
      await expect.poll(got, { timeout: 5_000 }).toEqual([{ id: '1', data: '{"n":1}' }, { id: '2', data: '{"n":2}' }]);
      await c.getStream('browser', 'b1').publish({ n: 3 });
      await expect.poll(got, { timeout: 5_000 }).toHaveLength(3);
      await c.close();
    } finally {
      await browser.close();
    }
  }, 30_000);
});
