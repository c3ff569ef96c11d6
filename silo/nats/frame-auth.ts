/**
 * Message authentication with the cluster key: an HMAC-SHA256 of the subject, the reply
 * subject and the frame, sent in a NATS header. NATS permissions say which credential may
 * publish where; the key says, per message, that the sender holds the cluster's secret — for
 * deployments where one credential is shared, and for clients trusted to send runtime
 * messages (`$txn.*`) through the client subjects. Binding the subjects keeps a signed frame
 * from being replayed to another silo or with its replies sent elsewhere.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** The header that carries the signature (base64url). */
export const SIGNATURE_HEADER = 'Granary-Sig';

const SEPARATOR = '\n';

export class FrameSigner {
  private readonly key: KeyObject;

  constructor(key: string) {
    this.key = createSecretKey(Buffer.from(key, 'utf8'));
  }

  sign(subject: string, reply: string, frame: Uint8Array): string {
    return this.mac(subject, reply, frame).toString('base64url');
  }

  /** Whether `signature` is this key's signature of the message (compared in constant time). */
  verify(subject: string, reply: string, frame: Uint8Array, signature: string | undefined): boolean {
    if (signature === undefined || signature.length === 0) return false;
    const given = Buffer.from(signature, 'base64url');
    const expected = this.mac(subject, reply, frame);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(subject: string, reply: string, frame: Uint8Array): Buffer {
    return createHmac('sha256', this.key).update(subject).update(SEPARATOR).update(reply).update(SEPARATOR).update(frame).digest();
  }
}
