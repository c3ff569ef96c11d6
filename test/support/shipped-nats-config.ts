/**
 * deploy/nats/nats.conf as a test (or benchmark) runs it: the store and the port left to the
 * `NatsServer` helper (its `-sd` temp dir and `-p -1`: nats-server refuses a store_dir given
 * twice), no monitoring port, and optionally its TLS block turned on with the given files.
 * Everything else — users, permissions, limits — is the shipped text.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's deploy/nats/nats.conf, found upwards from here (sources, dist/ or a bundle alike). */
function shippedConfigFile(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'deploy', 'nats', 'nats.conf');
    if (existsSync(file)) return file;
    if (dirname(dir) === dir) throw new Error('deploy/nats/nats.conf not found above ' + fileURLToPath(import.meta.url));
  }
}

export interface ShippedConfigOptions {
  /** Uncomment the TLS block with these PEM files. */
  tls?: { cert: string; key: string; ca: string };
}

/** The environment the shipped config reads its passwords from. */
export function shippedConfigEnv(passwords: { silo: string; client: string }): Record<string, string> {
  return { GRANARY_NATS_SILO_PASSWORD: passwords.silo, GRANARY_NATS_CLIENT_PASSWORD: passwords.client };
}

export function shippedNatsConfig(options: ShippedConfigOptions = {}): string {
  const shipped = readFileSync(shippedConfigFile(), 'utf8');
  let text = shipped.replace(/^\s*store_dir: .*$/m, '').replace(/^http_port: .*$/m, '');
  if (options.tls !== undefined) {
    const { cert, key, ca } = options.tls;
    text = text
      .replace(/^# tls \{[\s\S]*?^# \}$/m, (block) => block.split('\n').map((l) => l.replace(/^#\s?/, '')).join('\n'))
      .replace('/etc/nats/tls/tls.crt', cert)
      .replace('/etc/nats/tls/tls.key', key)
      .replace('/etc/nats/tls/ca.crt', ca);
    if (!/^tls \{/m.test(text)) throw new Error('deploy/nats/nats.conf has no commented "# tls {" block to turn on');
  }
  return text;
}
