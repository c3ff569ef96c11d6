/**
 * The journaled-grain feature on the core's seams (runtime/features.ts): for every type
 * built on `JournaledGrain`, a state loader (the journal, in place of the state port) and an
 * incoming filter that reloads the journal before a call when a failed append left the
 * activation unsure of the stored truth.
 */
import type { Activation } from '../../activation.js';
import { registerGrainTypeFeature } from '../../features.js';
import type { CallFilter } from '../../filters.js';
import type { GrainType } from '../../grain-type.js';
import { JOURNAL, JournalState } from './journal-state.js';
import { JournaledGrain } from './journaled-grain.js';
import { journalSpec } from './spec.js';

function isJournaled(type: GrainType): boolean {
  return type.cls.prototype instanceof JournaledGrain;
}

function journalFor(act: Activation): JournalState {
  return act.component(JOURNAL, () => new JournalState(act, journalSpec(act.type)));
}

registerGrainTypeFeature({
  name: 'journal',
  describe(type) {
    if (!isJournaled(type)) return undefined;
    journalSpec(type); // checks the statics now: a bad one fails the silo's start, not a call
    return (act: Activation): CallFilter => async (call, next) => {
      const j = act.component<JournalState>(JOURNAL);
      if (j?.stale) await j.load();
      return next();
    };
  },
  stateLoader(type) {
    if (!isJournaled(type)) return undefined;
    return (act) => {
      const journal = journalFor(act);
      // Where the activation stores a call record alone (runtime/activation.ts, `writeRecord`):
      // the journal, not the state port.
      act.recordWriter = () => journal.storeCallRecord();
      return journal.load();
    };
  },
});
