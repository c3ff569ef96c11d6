/**
 * The HTTP gateway: a grain call over HTTP (`POST /grains/Counter/k/get`, plain JSON, and
 * through `GrainClient.http`, codec media type) beside the limits measured in the same run
 * and process: a bare `node:http` server that parses the body and answers JSON, and the same
 * trivial route as a Hono app on `@hono/node-server`. Client and server share the process
 * (and its 2 cores) in every row alike. Concurrency 1 and 16, keep-alive fetch.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Grain, GrainClient, Silo } from 'granary';
import { fmtRate, heading, paired, row } from './support.js';

/** The sample Counter's shape, declared here so the bench imports granary only once. */
class Counter extends Grain<{ value: number }> {
  static grainType = 'Counter';
  protected override initialState() { return { value: 0 }; }
  async add(n: number): Promise<number> { this.state.value += n; await this.writeState(); return this.state.value; }
  async get(): Promise<number> { return this.state.value; }
}

const BODY = '{"args":[]}';

async function rawServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { text += d; });
    req.on('end', () => {
      const body = JSON.parse(text) as { args: unknown[] };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ result: body.args.length }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

async function honoServer(): Promise<{ url: string; close(): Promise<void> }> {
  const app = new Hono();
  app.post('/grains/:type/:key/:method', async (c) => {
    const body = (await c.req.json()) as { args: unknown[] };
    return c.json({ result: body.args.length });
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as http.Server;
  await new Promise<void>((r) => (server.listening ? r() : server.once('listening', () => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const postOnce = (url: string) => async () => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
  await res.text();
};

function concurrent(n: number, one: () => Promise<unknown>): () => Promise<void> {
  return async () => { await Promise.all(Array.from({ length: n }, one)); };
}

async function main(): Promise<void> {
  const silo = await Silo.start({ grains: [Counter], gateway: { port: 0, host: '127.0.0.1' } });
  const raw = await rawServer();
  const hono = await honoServer();
  const client = GrainClient.http(silo.gateway!.url);
  const counter = client.getGrain(Counter, 'bench');
  await counter.add(1);

  heading('HTTP gateway: grain call vs bare HTTP (same process, keep-alive fetch)');
  for (const c of [1, 16]) {
    const gw = { name: 'gateway', ops: c, batch: concurrent(c, postOnce(`${silo.gateway!.url}/grains/Counter/bench/get`)) };
    const bare = { name: 'node:http', ops: c, batch: concurrent(c, postOnce(`${raw.url}/grains/Counter/bench/get`)) };
    const honoOnly = { name: 'hono', ops: c, batch: concurrent(c, postOnce(`${hono.url}/grains/Counter/bench/get`)) };
    const viaClient = { name: 'GrainClient.http', ops: c, batch: concurrent(c, () => counter.get()) };
    const r1 = await paired(gw, bare);
    row({ label: `gateway POST Counter.get c${c}`, value: fmtRate(r1.a), limitLabel: `bare node:http JSON c${c}`, limit: fmtRate(r1.b), ratios: r1.ratios });
    const r2 = await paired(gw, honoOnly);
    row({ label: `gateway POST Counter.get c${c}`, value: fmtRate(r2.a), limitLabel: `trivial Hono route c${c}`, limit: fmtRate(r2.b), ratios: r2.ratios });
    const r3 = await paired(viaClient, bare);
    row({ label: `GrainClient.http get() c${c}`, value: fmtRate(r3.a), limitLabel: `bare node:http JSON c${c}`, limit: fmtRate(r3.b), ratios: r3.ratios });
  }

  await client.close();
  await silo.stop();
  await raw.close();
  await hono.close();
}

await main();
