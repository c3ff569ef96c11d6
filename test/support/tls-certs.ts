/**
 * A private certificate authority for TLS tests, made with the machine's `openssl` in a temp
 * dir at test time: a CA, a server certificate for 127.0.0.1 / localhost, and client
 * certificates signed by it (for mutual TLS) or by another CA (which the server must refuse).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair { cert: string; key: string }

export interface TestPki {
  readonly dir: string;
  /** The CA's certificate (trust it to verify the server, or the server trusts it for clients). */
  readonly ca: string;
  readonly server: CertPair;
  /** A client certificate the CA signed. */
  readonly client: CertPair;
  /** A client certificate from a CA nobody trusts. */
  readonly stranger: CertPair;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '');
    throw new Error(`openssl ${args[0]} failed (is openssl installed?): ${stderr || (err as Error).message}`, { cause: err });
  }
}

function authority(dir: string, name: string): CertPair {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', pair.key, '-out', pair.cert, '-days', '1', '-subj', `/CN=${name}`], dir);
  return pair;
}

function signed(dir: string, name: string, ca: CertPair, extensions: string): CertPair {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions + '\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', pair.key, '-out', csr, '-subj', `/CN=${name}`], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', pair.cert, '-days', '1', '-extfile', ext], dir);
  return pair;
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'granary-pki-'));
  try {
    const ca = authority(dir, 'ca');
    const other = authority(dir, 'other-ca');
    return {
      dir,
      ca: ca.cert,
      server: signed(dir, 'server', ca, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'),
      client: signed(dir, 'client', ca, 'extendedKeyUsage=clientAuth'),
      stranger: signed(dir, 'stranger', other, 'extendedKeyUsage=clientAuth'),
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
