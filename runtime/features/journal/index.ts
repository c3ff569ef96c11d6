/**
 * Journaled grains (event sourcing with snapshots), plugged into the core's seams; see
 * docs/journaled-grains.md. Importing this module registers the feature (runtime/index.ts does).
 */
import './feature.js';
export { JournaledGrain } from './journaled-grain.js';
export { registerJournalPublisher } from './projections.js';
export type { JournalPublication, JournalPublisher, PublishedEvent } from './projections.js';
export { journalTestHooks } from './hooks.js';
export type { JournalTestHooks } from './hooks.js';
