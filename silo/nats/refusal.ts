/**
 * A silo's refusal of a whole frame: an empty message with one header naming why, sent to
 * the frame's reply subject instead of a reply per record. The caller fails exactly the
 * calls that frame carried, with the reason said plainly.
 */
import { InvalidArgumentError, SiloUnavailableError } from '../../runtime/index.js';

export const REFUSAL_HEADER = 'Granary-Refused';

export type Refusal = 'malformed' | 'unauthenticated';

/** The error a caller's calls fail with when their frame was refused. */
export function refusalError(why: string | undefined, silo: string): Error {
  if (why === 'unauthenticated') {
    return new SiloUnavailableError(
      `silo ${silo} refused the call: silo-to-silo messages must carry the cluster key's signature; give this process the same clusterKey (GRANARY_CLUSTER_KEY) as the silos`,
      { data: { silo, refused: why } },
    );
  }
  return new InvalidArgumentError(`silo ${silo} refused the message that carried the call as malformed (${why ?? 'no reason given'})`, { data: { silo, refused: why } });
}
