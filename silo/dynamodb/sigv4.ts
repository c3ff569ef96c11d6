/**
 * AWS Signature Version 4 for the embedded dynalite, which itself only checks that a request
 * carries a signature, never its value. `checkSignature` recomputes the signature of a
 * received request with the store's secret (`@smithy/signature-v4`, the AWS SDK's own
 * signer, over exactly the headers the client signed) and compares; `signRequest` signs the
 * few requests Granary sends without the SDK.
 */
import { createHash, createHmac, timingSafeEqual, type BinaryLike } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from './options.js';

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
/** As DynamoDB: a signature older or newer than this is refused, so a captured request soon stops working. */
const MAX_SKEW_MS = 15 * 60_000;

export interface ReceivedRequest {
  method: string;
  /** The request target, e.g. `/` or `/?a=b`. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

/** A refusal in DynamoDB's terms: the SDK turns `type` into the error's name. */
export interface SignatureRefusal {
  type: 'MissingAuthenticationTokenException' | 'IncompleteSignatureException' | 'UnrecognizedClientException' | 'InvalidSignatureException';
  message: string;
}

/** Undefined when the request is signed with `credentials`; else why not. */
export async function checkSignature(req: ReceivedRequest, credentials: AwsCredentialIdentity, now = Date.now()): Promise<SignatureRefusal | undefined> {
  const header = req.headers.authorization;
  if (header === undefined) return { type: 'MissingAuthenticationTokenException', message: 'Request is missing Authentication Token' };
  const m = AUTHORIZATION.exec(header);
  if (m === null) return { type: 'IncompleteSignatureException', message: 'the authorization header is not an AWS4-HMAC-SHA256 signature' };
  const [, keyId, day, region, service, signedList, signature] = m as unknown as [string, string, string, string, string, string, string];
  if (!sameText(keyId, credentials.accessKeyId)) {
    return { type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  }
  const signedNames = signedList.split(';');
  if (!signedNames.includes('host') || !signedNames.includes('x-amz-date')) {
    return { type: 'InvalidSignatureException', message: 'host and x-amz-date must be signed headers' };
  }
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const value = req.headers[name];
    if (typeof value !== 'string') return { type: 'InvalidSignatureException', message: `signed header ${name} is missing or repeated` };
    headers[name] = value;
  }
  const signingDate = parseAmzDate(headers['x-amz-date']!);
  if (signingDate === undefined || headers['x-amz-date']!.slice(0, 8) !== day) {
    return { type: 'IncompleteSignatureException', message: 'x-amz-date must be an ISO 8601 basic date-time matching the credential scope' };
  }
  if (Math.abs(now - signingDate.getTime()) > MAX_SKEW_MS) {
    return { type: 'InvalidSignatureException', message: 'Signature expired or not yet current (more than 15 minutes off)' };
  }
  // The signer trusts a declared payload hash; the body must be what it declares.
  const declared = headers['x-amz-content-sha256'];
  if (declared !== undefined && declared !== createHash('sha256').update(req.body).digest('hex')) {
    return { type: 'InvalidSignatureException', message: 'x-amz-content-sha256 does not match the body' };
  }
  const url = new URL(req.url, 'http://embedded.invalid');
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key);
    query[key] = all.length === 1 ? all[0]! : all;
  }
  const expected = await new SignatureV4({ credentials, region, service, sha256: NodeSha256 }).sign(
    { method: req.method, protocol: 'http:', hostname: headers.host!, path: url.pathname, query, headers, body: req.body },
    { signingDate },
  );
  const got = AUTHORIZATION.exec(String(expected.headers.authorization))?.[6];
  if (got === undefined || !sameText(got, signature)) {
    return { type: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.' };
  }
  return undefined;
}

/** The headers of a signed JSON request (`authorization`, `x-amz-date`, …), for requests sent without the SDK. */
export async function signRequest(
  credentials: AwsCredentialIdentity,
  request: { host: string; port: number; headers: Record<string, string>; body: string },
): Promise<Record<string, string>> {
  const signed = await new SignatureV4({ credentials, region: 'local', service: 'dynamodb', sha256: NodeSha256 }).sign({
    method: 'POST',
    protocol: 'http:',
    hostname: request.host,
    port: request.port,
    path: '/',
    query: {},
    headers: { ...request.headers, host: `${request.host.includes(':') ? `[${request.host}]` : request.host}:${request.port}` },
    body: request.body,
  });
  return signed.headers as Record<string, string>;
}

/** `20240131T235959Z` → Date; undefined when malformed. */
function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) return undefined;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** What the signer hashes: text or bytes. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the signer takes. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', binary(secret));
  }
  update(data: SourceData): void {
    this.hash.update(binary(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    throw new Error('NodeSha256 is used once');
  }
}

function binary(data: SourceData): BinaryLike {
  if (typeof data === 'string') return data;
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
