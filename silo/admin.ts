/**
 * The management API's answers for a whole cluster, from any silo: this silo's own data read
 * from its catalog, other silos' asked for over the cluster transport with the silo's own
 * messages (`{"k":"admin",…}`, answered outside any grain, only for other silos: a client
 * credential is refused). Every answer is bounded: listings are paginated, each silo is asked
 * with a timeout, and a silo that does not answer is reported as such, never waited for.
 */
import { GrainError, InvalidArgumentError, grainId, type Catalog, type ClusterConnection, type InboundOrigin } from '../runtime/index.js';
import type { GrainErrorRecord } from './grain-error-log.js';
import type { MethodStats, SlowCall } from './metrics.js';

/** The prefix of every admin message's text: checked before anything is decoded. */
export const ADMIN_MESSAGE_PREFIX = '{"k":"admin"';

/** The most grains one listing returns (`limit` is capped to it). */
export const MAX_GRAIN_PAGE = 1000;
export const DEFAULT_GRAIN_PAGE = 100;

export interface AdminSilo {
  id: string;
  status: string;
  /** Live activations on it; null when it did not answer in time. */
  activations: number | null;
  /** Live activations by grain type (absent when it did not answer). */
  activationsByType?: Record<string, number>;
  types: readonly string[];
  startedAt: number;
}

export interface AdminGrain {
  type: string;
  key: string;
  silo: string;
}

export interface GrainPage {
  grains: AdminGrain[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  next?: string;
}

export interface GrainStatus {
  type: string;
  key: string;
  active: boolean;
  silo?: string;
}

export interface Admin {
  silos(): Promise<AdminSilo[]>;
  grains(query: { type?: string; limit?: number; cursor?: string }): Promise<GrainPage>;
  grain(type: string, key: string): Promise<GrainStatus>;
  deactivate(type: string, key: string): Promise<GrainStatus & { deactivated: boolean }>;
}

/** What a silo tells the dashboard about itself: calls, slowest grains, recent exceptions. */
export interface SiloInsights {
  calls: MethodStats[];
  slowest: SlowCall[];
  errors: Omit<GrainErrorRecord, 'stack'>[];
}

type AdminRequest =
  | { k: 'admin'; op: 'stats' }
  | { k: 'admin'; op: 'insights' }
  | { k: 'admin'; op: 'list'; type?: string; after?: string; limit: number }
  | { k: 'admin'; op: 'deactivate'; type: string; key: string };

export interface SiloAdminOptions {
  siloId: string;
  connection: ClusterConnection;
  catalog: () => Catalog;
  /** This silo's calls, slowest grains and recent exceptions (the dashboard's). */
  insights?: () => SiloInsights;
  /** How long another silo has to answer (default 2 s). */
  timeoutMs?: number;
}

/** The sort key of a grain in listings: type, then key. */
const sortKey = (type: string, key: string) => `${type}/${key}`;

export class SiloAdmin implements Admin {
  private readonly timeoutMs: number;
  constructor(private readonly options: SiloAdminOptions) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
  }

  /** Answers an admin message from another silo (the silo's inbound handler routes them here). */
  async handle(payload: string, origin?: InboundOrigin): Promise<string> {
    if (origin?.trusted === false) {
      return JSON.stringify({ k: 'err', error: { code: 'forbidden', name: 'InvalidArgumentError', message: 'admin messages come from silos only' } });
    }
    let req: AdminRequest;
    try {
      req = JSON.parse(payload) as AdminRequest;
    } catch {
      return JSON.stringify({ k: 'err', error: { code: 'invalid_argument', name: 'InvalidArgumentError', message: 'malformed admin message' } });
    }
    switch (req.op) {
      case 'stats': return JSON.stringify({ k: 'ok', value: this.localStats() });
      case 'insights': return JSON.stringify({ k: 'ok', value: this.localInsights() });
      case 'list': return JSON.stringify({ k: 'ok', value: this.localList(req.type, req.after, Math.min(MAX_GRAIN_PAGE, req.limit)) });
      case 'deactivate': return JSON.stringify({ k: 'ok', value: await this.localDeactivate(req.type, req.key) });
      default: return JSON.stringify({ k: 'err', error: { code: 'invalid_argument', name: 'InvalidArgumentError', message: 'unknown admin operation' } });
    }
  }

  private localStats(): { activations: number; activationsByType: Record<string, number> } {
    const byType = Object.fromEntries(this.options.catalog().countsByType());
    let n = 0;
    for (const v of Object.values(byType)) n += v;
    return { activations: n, activationsByType: byType };
  }

  private localInsights(): SiloInsights {
    return this.options.insights?.() ?? { calls: [], slowest: [], errors: [] };
  }

  /** Every live silo's insights (a silo that does not answer in time is left out). */
  async insights(): Promise<{ silo: string; insights: SiloInsights }[]> {
    const live = this.options.connection.membership.live();
    const all = await Promise.all(live.map(async (s) => {
      const insights = s.id === this.options.siloId
        ? this.localInsights()
        : await this.ask<SiloInsights>(s.id, { k: 'admin', op: 'insights' }).catch(() => undefined);
      return insights === undefined ? undefined : { silo: s.id, insights };
    }));
    return all.filter((x) => x !== undefined);
  }

  /** This silo's live activations (of `type`) after `after`, in order, at most `limit`. */
  private localList(type: string | undefined, after: string | undefined, limit: number): AdminGrain[] {
    const found: AdminGrain[] = [];
    for (const act of this.options.catalog().live()) {
      if (type !== undefined && act.id.type !== type) continue;
      if (after !== undefined && sortKey(act.id.type, act.id.key) <= after) continue;
      found.push({ type: act.id.type, key: act.id.key, silo: this.options.siloId });
    }
    found.sort((a, b) => compare(sortKey(a.type, a.key), sortKey(b.type, b.key)));
    return found.slice(0, limit);
  }

  private async localDeactivate(type: string, key: string): Promise<boolean> {
    const catalog = this.options.catalog();
    const act = catalog.get(grainId(type, key).toString());
    if (act === undefined) return false;
    await catalog.deactivate(act, 'requested');
    return true;
  }

  private async ask<T>(siloId: string, req: AdminRequest): Promise<T> {
    const text = await this.options.connection.transport.request(siloId, JSON.stringify(req), this.timeoutMs);
    const reply = JSON.parse(text) as { k: string; value?: T; error?: { message?: string } };
    if (reply.k !== 'ok') throw new GrainError('admin_failed', `silo ${siloId} refused the admin request: ${reply.error?.message ?? text.slice(0, 200)}`);
    return reply.value as T;
  }

  async silos(): Promise<AdminSilo[]> {
    const live = this.options.connection.membership.live();
    return Promise.all(live.map(async (s) => {
      const stats = s.id === this.options.siloId
        ? this.localStats()
        : await this.ask<{ activations: number; activationsByType: Record<string, number> }>(s.id, { k: 'admin', op: 'stats' }).catch(() => undefined);
      const out: AdminSilo = { id: s.id, status: s.status, activations: stats?.activations ?? null, types: s.types, startedAt: s.startedAt };
      if (stats !== undefined) out.activationsByType = stats.activationsByType;
      return out;
    }));
  }

  async grains(query: { type?: string; limit?: number; cursor?: string }): Promise<GrainPage> {
    const limit = query.limit ?? DEFAULT_GRAIN_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_GRAIN_PAGE) {
      throw new InvalidArgumentError(`limit must be a whole number from 1 to ${MAX_GRAIN_PAGE} (got ${String(query.limit)}); page on with the cursor the answer gives as "next"`);
    }
    const live = this.options.connection.membership.live().filter((s) => query.type === undefined || s.types.includes(query.type));
    // Each silo gives its first `limit + 1` after the cursor: enough to fill the page and know whether more follow.
    const pages = await Promise.all(live.map((s) => s.id === this.options.siloId
      ? Promise.resolve(this.localList(query.type, query.cursor, limit + 1))
      : this.ask<AdminGrain[]>(s.id, { k: 'admin', op: 'list', type: query.type, after: query.cursor, limit: limit + 1 }).catch(() => [] as AdminGrain[])));
    const merged = pages.flat().sort((a, b) => compare(sortKey(a.type, a.key), sortKey(b.type, b.key)));
    const grains = merged.slice(0, limit);
    const page: GrainPage = { grains };
    if (merged.length > limit) page.next = sortKey(grains.at(-1)!.type, grains.at(-1)!.key);
    return page;
  }

  async grain(type: string, key: string): Promise<GrainStatus> {
    const entry = await this.options.connection.directory.lookup(grainId(type, key));
    if (entry === undefined || !this.options.connection.membership.isLive(entry.silo)) return { type, key, active: false };
    return { type, key, active: true, silo: entry.silo };
  }

  async deactivate(type: string, key: string): Promise<GrainStatus & { deactivated: boolean }> {
    const where = await this.grain(type, key);
    if (!where.active) return { ...where, deactivated: false };
    const deactivated = where.silo === this.options.siloId
      ? await this.localDeactivate(type, key)
      : await this.ask<boolean>(where.silo!, { k: 'admin', op: 'deactivate', type, key });
    return { ...where, deactivated };
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
