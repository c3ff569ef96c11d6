/**
 * One silo's (or client's) connection to a NATS cluster: the NATS connection, the two KV
 * buckets, membership, directory, transport, and — for a silo — the responder on its own
 * subject. It also follows the NATS connection's status: while NATS is down, calls fail
 * fast with `SiloUnavailableError` and nobody is declared dead; after a reconnect the
 * membership watch restarts and the heartbeat is sent at once.
 */
import { Events, type JetStreamManager, type KV, type KvOptions, type NatsConnection } from 'nats';
import {
  SiloUnavailableError,
  type Clock, type ClusterConnection, type InboundHandler, type SiloInfo, type SiloStatus,
} from '../../runtime/index.js';
import type { Logger } from '../log.js';
import { NatsDirectory } from './directory.js';
import type { FrameSigner } from './frame-auth.js';
import { KvClient } from './kv-client.js';
import { Link } from './link.js';
import { NatsMembership } from './membership.js';
import type { ClusterNames } from './names.js';
import type { ResolvedTimings } from './options.js';
import { Responder } from './responder.js';
import { NatsTransport } from './transport.js';

export interface BucketSettings {
  storage: 'file' | 'memory';
  replicas: number;
}

export interface NatsConnectionParts {
  nc: NatsConnection;
  names: ClusterNames;
  timings: ResolvedTimings;
  buckets: BucketSettings;
  clock: Clock;
  logger: Logger;
  silo: SiloInfo | undefined;
  inbound: InboundHandler | undefined;
  /** See `ClusterConnectOptions.onDeclaredDead`. */
  onDeclaredDead?: (() => Promise<void>) | undefined;
  /** Signs what this connection sends, and checks what its silo receives, with the cluster key. */
  signer: FrameSigner | undefined;
}

export class NatsClusterConnection implements ClusterConnection {
  readonly membership: NatsMembership;
  readonly directory: NatsDirectory;
  readonly transport: NatsTransport;
  readonly siloId: string | undefined;
  private responder: Responder | undefined;
  private readonly link = new Link();
  private readonly kvDirectory: KvClient;
  private info: SiloInfo | undefined;
  private finished = false;

  private constructor(
    private readonly parts: NatsConnectionParts,
    private readonly jsm: JetStreamManager,
    kvMembers: KV,
  ) {
    const { nc, names, timings, clock, logger, silo, signer } = parts;
    this.info = silo;
    this.siloId = silo?.id;
    // A silo's connection, or a client's trusted like one (it reads the buckets): the internal subjects.
    const inbox = silo ? names.siloInbox : names.clientInbox;
    this.transport = new NatsTransport({
      nc, names, clock, signer, inbox,
      batching: timings.batching,
      probeAfterMs: timings.probeAfterMs,
      whenConnected: (ms) => this.link.whenConnected(ms),
      reconnectGraceMs: timings.reconnectGraceMs,
      // Membership is made next; the watchdog only calls it later, from a timer.
      onSlow: (silo) => this.membership.suspect(silo),
      route: 'internal',
    });
    this.membership = new NatsMembership({
      kv: kvMembers,
      lastSequence: () => this.lastSequence(names.membershipBucket),
      transport: this.transport,
      timings,
      logger,
      selfId: silo?.id,
      onDeclaredDead: parts.onDeclaredDead,
    });
    this.kvDirectory = new KvClient(nc, names.directoryBucket, timings.kvTimeoutMs, inbox);
    this.directory = new NatsDirectory(this.kvDirectory, names.directoryBucket, this.membership, this.link, timings.reconnectGraceMs);
  }

  /** Opens the buckets (creating them if needed), starts the watch and, for a silo, listens. */
  static async open(parts: NatsConnectionParts): Promise<NatsClusterConnection> {
    const jsm = await parts.nc.jetstreamManager({ timeout: parts.timings.kvTimeoutMs });
    const [members] = await openBuckets(parts);
    const info = await jsm.streams.info(`KV_${parts.names.directoryBucket}`);
    if (info.config.allow_direct !== true) {
      throw new Error(`the directory bucket ${parts.names.directoryBucket} does not allow direct gets (it was made by an old client); delete it, or pick another cluster name`);
    }
    const conn = new NatsClusterConnection(parts, jsm, members);
    try {
      if (parts.silo && parts.inbound) {
        conn.responder = new Responder({
          nc: parts.nc, names: parts.names, siloId: parts.silo.id, handler: parts.inbound,
          batching: parts.timings.batching, signer: parts.signer, logger: parts.logger,
        });
      }
      await conn.membership.start();
      void conn.followStatus();
      // Make sure the server has our subscriptions before anyone can learn our id.
      await parts.nc.flush();
    } catch (err) {
      conn.finished = true;
      conn.responder?.stop();
      conn.shutdown();
      throw err;
    }
    return conn;
  }

  async join(): Promise<void> {
    if (this.info === undefined) return;
    await this.membership.join(this.info);
    // Joined: ready for any grain, so clients' calls to "any silo" may come here too.
    this.responder?.openGateway();
  }

  async setStatus(status: SiloStatus): Promise<void> {
    if (this.info === undefined) return;
    this.info = { ...this.info, status };
    await this.membership.setStatus(status);
  }

  /**
   * Graceful: stop listening (later callers get "no responders" and go elsewhere), answer
   * every call already received, then remove our membership entry and disconnect. In that
   * order, so that when others see us leave, nothing they sent us is left unanswered.
   */
  async leave(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    try {
      const unanswered = (await this.responder?.drain(this.parts.timings.drainTimeoutMs)) ?? 0;
      if (unanswered > 0) {
        this.parts.logger.warn('leaving with calls still unanswered: the drain bound ran out; their callers get SiloUnavailableError', { unanswered, drainTimeoutMs: this.parts.timings.drainTimeoutMs });
      }
      await this.membership.leave();
      this.responder?.stop();
    } finally {
      this.shutdown();
      await this.parts.nc.drain().catch(() => this.parts.nc.close());
    }
  }

  /** Without goodbye (a crash, for the others): our entry stays until its heartbeat is stale. */
  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.responder?.stop();
    this.shutdown();
    // Once the server has our unsubscribe, a call to us gets "no responders" at once, as
    // after a real crash (where the closed socket does it) — not silence.
    if (this.responder !== undefined && this.transport.connected) {
      await Promise.race([this.parts.nc.flush(), new Promise((r) => setTimeout(r, 500).unref())]).catch(() => undefined);
    }
    await this.parts.nc.close().catch(() => undefined);
  }

  private shutdown(): void {
    this.membership.stop();
    this.transport.close();
    this.kvDirectory.close();
  }

  private async lastSequence(bucket: string): Promise<number> {
    const si = await this.jsm.streams.info(`KV_${bucket}`);
    return si.state.last_seq;
  }

  private async followStatus(): Promise<void> {
    const { nc, logger } = this.parts;
    for await (const s of nc.status()) {
      if (this.finished) break;
      if (s.type === Events.Disconnect) {
        logger.warn('NATS connection lost; reconnecting', { server: String(s.data) });
        this.transport.connected = false;
        this.link.lost();
        this.membership.onDisconnect();
        this.transport.failAll(new SiloUnavailableError('the NATS connection was lost while the call was in flight; it may or may not have run'));
      } else if (s.type === Events.Reconnect) {
        logger.warn('NATS connection restored', { server: String(s.data) });
        this.transport.connected = true;
        this.link.restored();
        void this.recover();
      }
    }
    if (!this.finished) {
      // The status stream ends only when the connection is closed for good (e.g. the server
      // refused our credentials on a reconnect): everything fails fast from here on.
      logger.error('the NATS connection closed and will not reconnect; this silo or client is cut off from the cluster');
      this.transport.connected = false;
      this.link.lost();
      this.membership.onDisconnect();
      this.transport.failAll(new SiloUnavailableError('the NATS connection closed while the call was in flight; it may or may not have run', { data: { closed: true } }));
    }
  }

  /** After a reconnect: the server may have restarted (and lost recent KV writes). */
  private async recover(): Promise<void> {
    try {
      // Re-made if the server lost them; the directory's client needs no new handle.
      const [members] = await openBuckets(this.parts);
      await this.membership.onReconnect(members);
    } catch (err) {
      this.parts.logger.warn('recovering the cluster state after a NATS reconnect failed; retrying', { err });
      if (!this.finished && this.transport.connected) setTimeout(() => { void this.recover(); }, 500).unref();
    }
  }
}

/** The membership and directory buckets, created when missing (idempotent, same settings everywhere). */
async function openBuckets(parts: NatsConnectionParts): Promise<[KV, KV]> {
  const js = parts.nc.jetstream({ timeout: parts.timings.kvTimeoutMs });
  const opts: Partial<KvOptions> = { history: 1, storage: parts.buckets.storage as KvOptions['storage'], replicas: parts.buckets.replicas };
  return Promise.all([
    js.views.kv(parts.names.membershipBucket, opts),
    js.views.kv(parts.names.directoryBucket, opts),
  ]);
}
