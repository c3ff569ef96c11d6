/**
 * The shipped NATS configuration is one file, used everywhere: deploy/k8s/nats.yaml carries
 * deploy/nats/nats.conf unchanged, compose mounts it, and the silo and client users of both
 * deployments are the users it defines.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { readConfig } from '../../silo/config.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const conf = read('deploy/nats/nats.conf');

describe('deploy/nats/nats.conf in the deployments', () => {
  it('deploy/k8s/nats.yaml holds it unchanged, and the silos log in as its silo user with the Secret\'s password', () => {
    const docs = parseAllDocuments(read('deploy/k8s/nats.yaml')).map((d) => d.toJS());
    const cm = docs.find((d) => d.kind === 'ConfigMap');
    expect(cm.data['nats.conf']).toBe(conf);
    const env = parseAllDocuments(read('deploy/k8s/deployment.yaml'))[0]!.toJS().spec.template.spec.containers[0].env as { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
    expect(conf).toContain(`user: "${env.find((e) => e.name === 'GRANARY_NATS_USER')?.value}"`);
    expect(env.find((e) => e.name === 'GRANARY_NATS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'granary-nats', key: 'silo-password' });
    expect(env.find((e) => e.name === 'GRANARY_CLUSTER_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'granary-nats', key: 'cluster-key' });
    const nats = docs.find((d) => d.kind === 'StatefulSet').spec.template.spec.containers[0];
    expect(nats.env.map((e: { name: string }) => e.name).sort()).toEqual(['GRANARY_NATS_CLIENT_PASSWORD', 'GRANARY_NATS_SILO_PASSWORD', 'POD_NAME']);
  });

  it('deploy/compose.yaml mounts it, and its silos log in as its silo user', () => {
    const compose = parseAllDocuments(read('deploy/compose.yaml'), { merge: true })[0]!.toJS();
    for (const name of ['nats-1', 'nats-2', 'nats-3']) {
      expect(compose.services[name].volumes).toContain('./nats/nats.conf:/etc/nats/nats.conf:ro');
      expect(compose.services[name].command.join(' ')).toContain('--config /etc/nats/nats.conf');
    }
    expect(conf).toContain(`user: "${compose.services['silo-1'].environment.GRANARY_NATS_USER}"`);
  });
});

describe('the entry point\'s NATS credentials and key', () => {
  const base = { GRANARY_NATS_URL: 'nats://nats:4222' };
  it('reads user, password, key and TLS files', () => {
    const c = readConfig({ ...base, GRANARY_NATS_USER: 'granary-silo', GRANARY_NATS_PASSWORD: ' p w ', GRANARY_CLUSTER_KEY: 'k'.repeat(16), GRANARY_NATS_CA_FILE: '/ca.pem' });
    expect(c.natsUser).toEqual({ user: 'granary-silo', pass: ' p w ' });
    expect(c.clusterKey).toBe('k'.repeat(16));
    expect(c.natsTls).toEqual({ caFile: '/ca.pem' });
    expect(readConfig(base).natsTls).toBeUndefined();
  });
  it('refuses a short key, a user without a password, a certificate without its key — naming the variable', () => {
    expect(() => readConfig({ ...base, GRANARY_CLUSTER_KEY: 'short' })).toThrow(/^GRANARY_CLUSTER_KEY: expected at least 16 characters/);
    expect(() => readConfig({ ...base, GRANARY_NATS_USER: 'granary-silo' })).toThrow(/GRANARY_NATS_PASSWORD/);
    expect(() => readConfig({ ...base, GRANARY_NATS_CERT_FILE: '/c.pem' })).toThrow(/GRANARY_NATS_KEY_FILE/);
  });
});
