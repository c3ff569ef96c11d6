/**
 * Which silo fires which reminder partition: rendezvous (highest random weight) hashing of
 * the partition over the live silos, as `hash` placement does for grains. Every silo computes
 * the same answer from the same membership, so no coordination is needed; when a silo dies
 * or leaves, only its partitions move, each to the next-highest silo.
 */
import { fnv1a } from '../../reminder-storage.js';
import type { SiloInfo } from '../../cluster.js';

/** The silos that share the partitions: active ones (draining silos hand theirs over). */
export function reminderOwners(live: readonly SiloInfo[]): readonly SiloInfo[] {
  const active = live.filter((s) => s.status === 'active');
  return active.length > 0 ? active : live;
}

/** The owner of `partition` among `silos`. */
export function partitionOwner(partition: number, silos: readonly SiloInfo[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const s of silos) {
    const score = fnv1a(`${s.id}|reminders/${partition}`);
    if (score > bestScore || (score === bestScore && best !== undefined && s.id < best)) { best = s.id; bestScore = score; }
  }
  return best;
}

/** The partitions `self` owns. */
export function ownedPartitions(self: string, live: readonly SiloInfo[], partitions: number): number[] {
  const silos = reminderOwners(live);
  if (!silos.some((s) => s.id === self)) return [];
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) if (partitionOwner(p, silos) === self) out.push(p);
  return out;
}
