/**
 * The in-process cluster: membership, directory and transport for silos in one process.
 * It is the default of `Silo.start` and the cluster of `TestCluster`. Like a network, it
 * delivers asynchronously, knows nothing of the messages (they arrive as codec text), and a
 * crashed silo simply stops answering: its membership entry goes only when a caller finds
 * it silent ("no responders"), exactly as with NATS.
 */
import {
  SiloUnavailableError, TimeoutError,
  type Clock, type ClusterConnection, type ClusterProvider, type ClusterConnectOptions, type Directory,
  type DirectoryEntry, type GrainId, type InboundHandler, type Membership, type SiloInfo, type SiloStatus,
} from '../../runtime/index.js';

/** What happens to one message on a simulated network. */
export interface MessageFate {
  drop: boolean;
  /** Delivered after this many clock milliseconds. */
  delayMs: number;
  /** Delivered a second time, after this many milliseconds (absent: once). */
  duplicateDelayMs?: number;
}

/**
 * Simulated network conditions (a seeded TestCluster's faults, partitions and pauses). `from`
 * and `to` are silo ids, undefined for a client. Absent, the network is perfect and prompt.
 */
export interface NetworkConditions {
  message(from: string | undefined, to: string | undefined, kind: 'request' | 'reply'): MessageFate;
  /** A message is in transit (counted until `delivered`, for "is the simulation quiet"). */
  carried(): void;
  delivered(): void;
}

class Network {
  conditions: NetworkConditions | undefined;
  readonly members = new Map<string, SiloInfo>();
  readonly inboxes = new Map<string, InboundHandler>();
  readonly directory = new Map<string, DirectoryEntry>();
  /** In-flight requests per target silo, failed when that silo goes away. */
  readonly inflight = new Map<string, Set<(err: Error) => void>>();
  private readonly listeners = new Set<(live: readonly SiloInfo[]) => void>();
  private snapshot: readonly SiloInfo[] = [];

  live(): readonly SiloInfo[] {
    return this.snapshot;
  }

  changed(): void {
    this.snapshot = [...this.members.values()];
    for (const l of [...this.listeners]) l(this.snapshot);
  }

  onChange(l: (live: readonly SiloInfo[]) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The silo's process is gone: fail what is in flight to it. */
  closeInbox(siloId: string): void {
    this.inboxes.delete(siloId);
    const pending = this.inflight.get(siloId);
    this.inflight.delete(siloId);
    if (pending) {
      const err = new SiloUnavailableError(`silo ${siloId} went away while handling the call; the call may or may not have run`);
      for (const fail of pending) fail(err);
    }
  }

  remove(siloId: string): void {
    if (this.members.delete(siloId)) this.changed();
  }
}

class MemoryMembership implements Membership {
  constructor(private readonly net: Network) {}
  live(): readonly SiloInfo[] { return this.net.live(); }
  isLive(siloId: string): boolean { return this.net.members.has(siloId); }
  onChange(listener: (live: readonly SiloInfo[]) => void): () => void { return this.net.onChange(listener); }
  suspect(siloId: string): void {
    // In one process the check is exact: a member without an inbox has crashed.
    if (!this.net.inboxes.has(siloId)) this.net.remove(siloId);
  }
}

class MemoryDirectory implements Directory {
  constructor(private readonly net: Network) {}

  async lookup(id: GrainId): Promise<DirectoryEntry | undefined> {
    return this.net.directory.get(String(id));
  }

  async register(id: GrainId, entry: DirectoryEntry): Promise<DirectoryEntry> {
    const key = String(id);
    const existing = this.net.directory.get(key);
    if (existing !== undefined && this.net.members.has(existing.silo)) return existing;
    this.net.directory.set(key, entry);
    return entry;
  }

  async unregister(id: GrainId, entry: DirectoryEntry): Promise<void> {
    const key = String(id);
    const existing = this.net.directory.get(key);
    if (existing !== undefined && existing.silo === entry.silo && existing.activation === entry.activation) {
      this.net.directory.delete(key);
    }
  }
}

class MemoryConnection implements ClusterConnection {
  readonly membership: MemoryMembership;
  readonly directory: MemoryDirectory;
  readonly siloId: string | undefined;
  private info: SiloInfo | undefined;
  private closed = false;

  constructor(private readonly net: Network, private readonly clock: Clock, silo: SiloInfo | undefined, inbound: InboundHandler | undefined) {
    this.membership = new MemoryMembership(net);
    this.directory = new MemoryDirectory(net);
    this.info = silo;
    this.siloId = silo?.id;
    if (silo && inbound) net.inboxes.set(silo.id, inbound);
  }

  readonly transport = {
    request: (siloId: string, payload: string, timeoutMs: number): Promise<string> => {
      if (this.closed) return Promise.reject(new SiloUnavailableError('this cluster connection is closed', { data: { closed: true } }));
      const inbox = this.net.inboxes.get(siloId);
      if (inbox === undefined) {
        return Promise.reject(new SiloUnavailableError(`no responders for silo ${siloId}`, { data: { retryable: true, silo: siloId } }));
      }
      return new Promise<string>((resolve, reject) => {
        let done = false;
        const pending = this.net.inflight.get(siloId) ?? new Set();
        this.net.inflight.set(siloId, pending);
        const finish = () => { done = true; pending.delete(fail); timer.cancel(); };
        const fail = (err: Error) => { if (!done) { finish(); reject(err); } };
        const timer = this.clock.setTimer(
          () => fail(new TimeoutError(`silo ${siloId} did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
        pending.add(fail);
        const conditions = this.net.conditions;
        if (conditions === undefined) {
          // Deliver on a later tick, as a network would.
          queueMicrotask(() => {
            inbox(payload).then(
              (reply) => { if (!done) { finish(); resolve(reply); } },
              (err) => fail(err instanceof Error ? err : new Error(String(err))),
            );
          });
          return;
        }
        // Simulated network: the conditions decide each message's fate, in the clock's time.
        this.carry(conditions, this.siloId, siloId, 'request', (copy) => {
          const target = this.net.inboxes.get(siloId);
          if (target === undefined) {
            if (!copy) fail(new SiloUnavailableError(`no responders for silo ${siloId}`, { data: { retryable: true, silo: siloId } }));
            return;
          }
          const answer = (settle: () => void) => this.carry(conditions, siloId, this.siloId, 'reply', () => { if (!done) settle(); });
          target(payload).then(
            (reply) => { if (!copy) answer(() => { finish(); resolve(reply); }); },
            (err) => { if (!copy) answer(() => fail(err instanceof Error ? err : new Error(String(err)))); },
          );
        });
      });
    },
  };

  /** Sends one message under simulated conditions: dropped, delayed, or delivered twice. */
  private carry(conditions: NetworkConditions, from: string | undefined, to: string | undefined, kind: 'request' | 'reply', deliver: (copy: boolean) => void): void {
    const fate = conditions.message(from, to, kind);
    if (fate.drop) return;
    conditions.carried();
    this.clock.setTimer(() => { conditions.delivered(); deliver(false); }, fate.delayMs);
    if (fate.duplicateDelayMs !== undefined) {
      // The copy runs on the target too, but its answer goes nowhere: the caller took the first.
      conditions.carried();
      this.clock.setTimer(() => { conditions.delivered(); deliver(true); }, fate.duplicateDelayMs);
    }
  }

  async join(): Promise<void> {
    if (!this.info) return;
    this.net.members.set(this.info.id, this.info);
    this.net.changed();
  }

  async setStatus(status: SiloStatus): Promise<void> {
    if (!this.info) return;
    this.info = { ...this.info, status };
    if (this.net.members.has(this.info.id)) {
      this.net.members.set(this.info.id, this.info);
      this.net.changed();
    }
  }

  async leave(): Promise<void> {
    if (this.info) {
      this.net.closeInbox(this.info.id);
      this.net.remove(this.info.id);
    }
    this.closed = true;
  }

  async close(): Promise<void> {
    if (this.info) this.net.closeInbox(this.info.id);
    this.closed = true;
  }
}

export interface MemoryClusterOptions {
  /** A name for logs (default `"memory"`). */
  name?: string;
  /** Simulated network conditions (TestCluster with a seed); default: every message delivered on the next tick. */
  conditions?: NetworkConditions;
}

/** A private in-process cluster; pass the same instance to every silo (and client) that should meet. */
export function memoryCluster(options: MemoryClusterOptions = {}): ClusterProvider {
  const net = new Network();
  net.conditions = options.conditions;
  return {
    name: options.name ?? 'memory',
    async connect(o: ClusterConnectOptions): Promise<ClusterConnection> {
      if (o.silo && !o.inbound) throw new TypeError('a silo connection needs an inbound handler');
      return new MemoryConnection(net, o.clock, o.silo, o.inbound);
    },
  };
}
