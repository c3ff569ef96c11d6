/**
 * Fault-injection points for tests. A hook may wait (the test kills the silo meanwhile);
 * when its promise rejects, the step stops there, as if the process had died.
 */
export interface JournalTestHooks {
  /** After a batch is appended and applied, before the snapshot it calls for is written. */
  beforeSnapshot?: (grainKey: string, version: number) => void | Promise<void>;
}

export const journalTestHooks: JournalTestHooks = {};
