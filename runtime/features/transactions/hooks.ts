/**
 * Fault-injection points for tests (crash the coordinating silo between prepare and commit,
 * or between commit and apply). A hook may wait (the test kills the silo meanwhile); when
 * its promise rejects, the step stops there, as if the process had died.
 */
export interface TransactionTestHooks {
  /** On the coordinating participant's silo, after every participant prepared, before the commit point. */
  beforeCommit?: (txnId: string, kind: 'one-phase' | 'two-phase', manager: string) => void | Promise<void>;
  /** After the commit record is written, before any participant applies. */
  afterCommitRecord?: (txnId: string, manager: string) => void | Promise<void>;
}

export const transactionTestHooks: TransactionTestHooks = {};
