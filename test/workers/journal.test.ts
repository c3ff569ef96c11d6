/**
 * Journaled grains on Workers: the journaled-grain behaviour suite through the Worker's
 * gateway, each grain in its own Durable Object with its journal in the object's SQLite-backed
 * storage (silo/workers/durable-journal.ts).
 */
import { describeJournalBehaviour } from '../journal/behaviour-suite.js';
import { useTestWorker } from './worker-host.js';

const host = useTestWorker('granary-worker-journal-');

describeJournalBehaviour('Worker (Durable Objects)', () => host.client);
