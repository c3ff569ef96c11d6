/**
 * The cluster port: membership, the grain directory and the transport between silos.
 * The in-memory provider (`silo/memory`) and the NATS provider (`silo/nats`) implement it;
 * a conformance suite runs the same tests against both.
 */
import type { Clock } from './clock.js';
import type { GrainId } from './identity.js';

export type SiloStatus = 'active' | 'draining';

export interface SiloInfo {
  readonly id: string;
  /** Grain types this silo hosts. */
  readonly types: readonly string[];
  readonly startedAt: number;
  readonly status: SiloStatus;
}

export interface Membership {
  /** Live silos as last known; cheap and synchronous (the provider keeps it current). */
  live(): readonly SiloInfo[];
  isLive(siloId: string): boolean;
  /** Called whenever the live set (or a silo's status) changes; returns an unsubscribe. */
  onChange(listener: (live: readonly SiloInfo[]) => void): () => void;
  /** Reports a silo that did not answer ("no responders"); the provider checks and may declare it dead. */
  suspect(siloId: string): void;
}

export interface DirectoryEntry {
  readonly silo: string;
  /** Distinguishes successive activations of a grain on the same silo. */
  readonly activation: string;
}

export interface Directory {
  lookup(id: GrainId): Promise<DirectoryEntry | undefined>;
  /**
   * Registers `entry` with an atomic create and resolves to the winner: `entry` itself, or
   * the entry of a live silo that registered first. An entry of a dead silo is replaced.
   */
  register(id: GrainId, entry: DirectoryEntry): Promise<DirectoryEntry>;
  /** Removes the entry only while it is still `entry` (never another activation's). */
  unregister(id: GrainId, entry: DirectoryEntry): Promise<void>;
}

export interface Transport {
  /**
   * Sends a request to a silo and resolves to its reply. Rejects with `SiloUnavailableError`
   * when no silo answers on that address, `TimeoutError` after `timeoutMs`, and
   * `InvalidArgumentError` when the payload is larger than the transport carries.
   */
  request(siloId: string, payload: string, timeoutMs: number): Promise<string>;
  /** Requests sent and not yet answered (the NATS transport counts them; `GET /metrics` shows it). */
  readonly inFlight?: number;
  /**
   * A request or its reply can be lost on the way (NATS between servers of a cluster): a call
   * that may be re-sent waits this long for a reply before it is sent again (its id makes the
   * second send safe). Absent: the transport loses nothing, a call waits its whole deadline.
   */
  readonly attemptTimeoutMs?: number;
}

/** Where a request came from, as far as the transport can vouch for it. */
export interface InboundOrigin {
  /**
   * False for a request from a client credential (it may call grain methods, never send the
   * runtime's own messages, `$txn.*` and the like); true for another silo. Absent: trusted.
   */
  readonly trusted: boolean;
}

/** Handles one request addressed to this silo; resolves to the reply payload. */
export type InboundHandler = (payload: string, origin?: InboundOrigin) => Promise<string>;

export interface ClusterConnection {
  readonly membership: Membership;
  readonly directory: Directory;
  readonly transport: Transport;
  /** This silo's id, or undefined for a client that hosts nothing. */
  readonly siloId: string | undefined;
  /** Announces this silo as live (after it is ready to take calls). */
  join(): Promise<void>;
  /** Updates this silo's advertised status (e.g. `draining` during a graceful stop). */
  setStatus(status: SiloStatus): Promise<void>;
  /** Graceful: leaves the membership, stops taking requests, disconnects. */
  leave(): Promise<void>;
  /** Disconnects without goodbye. */
  close(): Promise<void>;
}

export interface ClusterConnectOptions {
  /** The silo to host; omitted for a client. */
  silo?: SiloInfo;
  /** Handler for requests addressed to this silo (required with `silo`). */
  inbound?: InboundHandler;
  /**
   * The cluster declared this silo dead while it runs (a false suspicion: a silo moving to
   * another NATS server answers "no responders" for a moment). Others may already have taken
   * its grains over, so the silo gives up every activation before it announces itself again
   * (Orleans' silos do the same): no grain stays active twice.
   */
  onDeclaredDead?: () => Promise<void>;
  clock: Clock;
}

export interface ClusterProvider {
  /** A short name for logs, e.g. `"memory"` or `"nats:prod"`. */
  readonly name: string;
  connect(options: ClusterConnectOptions): Promise<ClusterConnection>;
}
