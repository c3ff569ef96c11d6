/**
 * Journaled grains' projections (`static journalStream = 'ns'`, runtime/features/journal):
 * every confirmed event is published to the stream (`ns`, grain key), in order, once its batch
 * is appended. A grain whose host keeps no streams publishes nothing (its journal is the
 * source of truth either way; a read model catches up from it by version).
 */
import { runtimeOf } from '../../grain.js';
import { registerJournalPublisher } from '../journal/projections.js';
import { findStreamBackend } from './backend.js';

registerJournalPublisher(async (p) => {
  const backend = findStreamBackend(runtimeOf(p.source));
  if (backend === undefined) return;
  for (const e of p.events) await backend.publish(p.namespace, p.key, e.event);
});
