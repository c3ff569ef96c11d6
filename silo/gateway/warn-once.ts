/**
 * Warnings about requests, once per subject: a client that keeps sending the same header
 * gets one line in the log, not one per request. The set of subjects is bounded, since
 * callers choose them (header and context names).
 */
import type { GatewayLogger } from './backend.js';

const MAX_SUBJECTS = 1_000;

export function warnOnce(logger: GatewayLogger): (subject: string, message: string) => void {
  const seen = new Set<string>();
  let full = false;
  return (subject, message) => {
    if (seen.has(subject) || full) return;
    if (seen.size >= MAX_SUBJECTS) {
      full = true;
      logger.warn(`gateway: ${MAX_SUBJECTS} request warnings logged; further ones are not`);
      return;
    }
    seen.add(subject);
    logger.warn(`gateway: ${message}`, { subject });
  };
}

/** The logger of a gateway that was given none (a Worker logs through the console). */
export const consoleLogger: GatewayLogger = {
  warn: (msg, fields) => console.warn(fields === undefined ? msg : `${msg} ${JSON.stringify(fields)}`),
};
