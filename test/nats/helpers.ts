/** Shared pieces of the NATS port tests: silo connections with a hand-written inbound handler. */
import { ulid } from 'ulid';
import { natsCluster, type ClusterProvider, type NatsClusterOptions } from 'granary';
import { systemClock, type ClusterConnection, type InboundHandler, type SiloInfo } from 'granary/internal';

let clusters = 0;

/** A provider on its own fresh cluster name; fast heartbeats so staleness tests stay short. */
export function freshCluster(servers: string, extra: Partial<NatsClusterOptions> = {}): ClusterProvider {
  return natsCluster({ servers, name: `t${process.pid}-${++clusters}`, heartbeatIntervalMs: 200, staleAfterMs: 1000, ...extra });
}

export function siloInfo(types: string[] = ['T']): SiloInfo {
  return { id: ulid(), types, startedAt: Date.now(), status: 'active' };
}

/** Connects and joins a silo whose handler is `inbound` (default: echo). */
export async function joinSilo(provider: ClusterProvider, inbound: InboundHandler = async (p) => p, info = siloInfo()): Promise<ClusterConnection> {
  const conn = await provider.connect({ silo: info, inbound, clock: systemClock });
  await conn.join();
  return conn;
}

export function connectClient(provider: ClusterProvider): Promise<ClusterConnection> {
  return provider.connect({ clock: systemClock });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it is true or `timeoutMs` passes; returns the time it took. */
export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(10);
  }
  return performance.now() - start;
}

export function ids(conn: ClusterConnection): string[] {
  return conn.membership.live().map((s) => s.id).sort();
}

/** Closes every connection, ignoring ones already closed. */
export async function closeAll(conns: ClusterConnection[]): Promise<void> {
  await Promise.all(conns.splice(0).map((c) => c.close().catch(() => undefined)));
}
