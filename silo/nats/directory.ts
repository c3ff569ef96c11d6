/**
 * The grain directory over a JetStream KV bucket: key = the encoded grain id, value =
 * `{silo, activation}` as JSON. Registering is an atomic create (a write expecting the key's
 * last sequence to be 0), so exactly one silo wins each grain. An entry of a dead silo is
 * replaced by a write conditional on the revision just read, so when two silos find the
 * same dead entry only one of them replaces it. Unregistering deletes only while the entry
 * is still the caller's (again by revision).
 */
import {
  SiloUnavailableError,
  type Directory, type DirectoryEntry, type GrainId,
} from '../../runtime/index.js';
import { CONFLICT, type KvClient } from './kv-client.js';
import type { Link } from './link.js';
import type { NatsMembership } from './membership.js';
import { grainKey } from './names.js';

/** Rounds of create → read → replace before giving up on a key that keeps changing. */
const MAX_ROUNDS = 8;

/** Delete-marker removals in flight at once, and waiting at most (past it, markers stay). */
const MARKER_WORKERS = 4;
const MAX_QUEUED_MARKERS = 100_000;

export class NatsDirectory implements Directory {
  /** Entries this connection registered, with their revisions: one round trip to unregister. */
  private readonly mine = new Map<string, { activation: string; revision: number }>();

  constructor(
    private readonly kv: KvClient,
    private readonly bucket: string,
    private readonly membership: NatsMembership,
    private readonly link: Link,
    /** How long an operation waits for a reconnect before failing (see `reconnectGraceMs`). */
    private readonly reconnectGraceMs = 0,
  ) {}

  /** Lookups in flight, by key: concurrent first calls to one grain share one KV read. */
  private readonly lookups = new Map<string, Promise<DirectoryEntry | undefined>>();

  lookup(id: GrainId): Promise<DirectoryEntry | undefined> {
    const key = grainKey(id);
    let p = this.lookups.get(key);
    if (p === undefined) {
      p = this.kvCall('look up', id, () => this.kv.get(key)).then(
        (e) => (e === null || e.operation !== 'PUT' ? undefined : parseEntry(e.value)),
      );
      this.lookups.set(key, p);
      const forget = () => { this.lookups.delete(key); };
      p.then(forget, forget);
    }
    return p;
  }

  async register(id: GrainId, entry: DirectoryEntry): Promise<DirectoryEntry> {
    const key = grainKey(id);
    const value = JSON.stringify({ silo: entry.silo, activation: entry.activation });
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const created = await this.conditionalPut(id, key, value, 0);
      if (created !== undefined) return this.won(key, entry, created);
      const existing = await this.kvCall('read', id, () => this.kv.get(key));
      if (existing === null) continue; // purged meanwhile: create again
      if (existing.operation === 'PUT') {
        const current = parseEntry(existing.value);
        if (current !== undefined) {
          if (current.silo === entry.silo && current.activation === entry.activation) return this.won(key, entry, existing.revision);
          const live = await this.kvCall('check the owner of', id, () => this.membership.confirmLive(current.silo));
          if (live) return current;
        }
      }
      // Deleted, unreadable, or owned by a dead silo: replace exactly what we read.
      const replaced = await this.conditionalPut(id, key, value, existing.revision);
      if (replaced !== undefined) return this.won(key, entry, replaced);
      // Someone else changed it first: look again.
    }
    throw new SiloUnavailableError(`the directory entry of ${String(id)} kept changing under ${MAX_ROUNDS} registration attempts; retry shortly`);
  }

  async unregister(id: GrainId, entry: DirectoryEntry): Promise<void> {
    const key = grainKey(id);
    const known = this.mine.get(key);
    if (known !== undefined && known.activation === entry.activation) {
      this.mine.delete(key);
      await this.conditionalDelete(id, key, known.revision);
      return;
    }
    const e = await this.kvCall('read', id, () => this.kv.get(key));
    if (e === null || e.operation !== 'PUT') return;
    const current = parseEntry(e.value);
    if (current === undefined || current.silo !== entry.silo || current.activation !== entry.activation) return;
    await this.conditionalDelete(id, key, e.revision);
  }

  private won(key: string, entry: DirectoryEntry, revision: number): DirectoryEntry {
    this.mine.set(key, { activation: entry.activation, revision });
    return entry;
  }

  /** A put expecting the key's last revision (0: absent); undefined when that expectation failed. */
  private async conditionalPut(id: GrainId, key: string, value: string, revision: number): Promise<number | undefined> {
    const r = await this.kvCall('register', id, () => this.kv.put(key, value, revision));
    return r === CONFLICT ? undefined : r;
  }

  /** Deletes while the key is at `revision`; when it is not, it is not ours any more: nothing to do. */
  private async conditionalDelete(id: GrainId, key: string, revision: number): Promise<void> {
    const marker = await this.kvCall('unregister', id, () => this.kv.delete(key, revision));
    if (marker !== CONFLICT) this.collectMarker(key, marker);
  }

  /** Delete markers removed, and removals that failed (the marker then stays: harmless, it only takes space). */
  readonly markers = { removed: 0, failed: 0 };
  private readonly markerQueue: { key: string; revision: number }[] = [];
  private markerWorkers = 0;

  /**
   * The bucket would keep a delete marker for every grain ever deactivated: remove it once it
   * is written, in the background, a few at a time (deactivations come in waves when the
   * idle collector runs). A registration that came after it is kept (see `removeMarker`),
   * and one that read the marker and now finds the key gone simply registers again.
   */
  private collectMarker(key: string, revision: number): void {
    if (this.markerQueue.length >= MAX_QUEUED_MARKERS) { this.markers.failed++; return; }
    this.markerQueue.push({ key, revision });
    while (this.markerWorkers < MARKER_WORKERS && this.markerWorkers < this.markerQueue.length) {
      this.markerWorkers++;
      void this.removeMarkers().finally(() => { this.markerWorkers--; });
    }
  }

  private async removeMarkers(): Promise<void> {
    for (let next = this.markerQueue.shift(); next !== undefined; next = this.markerQueue.shift()) {
      if (!this.link.connected) { this.markers.failed++; continue; }
      try {
        await this.link.guard(this.kv.removeMarker(next.key, next.revision));
        this.markers.removed++;
      } catch {
        this.markers.failed++;
      }
    }
  }

  /** Runs a KV operation, failing fast while NATS is down and with a clear error otherwise. */
  private async kvCall<T>(what: string, id: GrainId, op: () => Promise<T>): Promise<T> {
    // Not sent yet: a short reconnect (to a surviving server of a clustered NATS) is waited out.
    if (!this.link.connected && this.reconnectGraceMs > 0) await this.link.whenConnected(this.reconnectGraceMs);
    if (!this.link.connected) {
      throw new SiloUnavailableError(`cannot ${what} ${String(id)} in the grain directory: the NATS connection is down (reconnecting); retry shortly`);
    }
    try {
      return await this.link.guard(op());
    } catch (err) {
      if (err instanceof SiloUnavailableError) throw err;
      throw new SiloUnavailableError(
        `cannot ${what} ${String(id)} in the grain directory (NATS KV bucket ${this.bucket}): ${(err as Error).message}; retry shortly`,
        { cause: err },
      );
    }
  }
}

function parseEntry(value: Uint8Array): DirectoryEntry | undefined {
  try {
    const v = JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')) as Partial<DirectoryEntry>;
    if (v && typeof v.silo === 'string' && typeof v.activation === 'string') return { silo: v.silo, activation: v.activation };
  } catch {
    // an unreadable entry is treated as absent, and replaced on the next register
  }
  return undefined;
}
