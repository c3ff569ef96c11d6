/**
 * What can be checked of deploy/ without a container engine: the YAML parses, every
 * variable it sets is one the entry point knows, the Dockerfile has the promised shape,
 * and the Kubernetes grace period covers the silo's drain bound.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KNOWN_ENV_VAR_NAMES, readConfig } from '../../silo/config.js';
import { REPO, dockerfileCommand } from './silo-process.js';

const known = new Set<string>(KNOWN_ENV_VAR_NAMES);
const read = (...p: string[]) => readFileSync(join(REPO, ...p), 'utf8');

function yamlDocs(...p: string[]): any[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const docs = parseAllDocuments(read(...p), { merge: true });
  for (const d of docs) expect(d.errors, p.join('/')).toEqual([]);
  return docs.map((d) => d.toJS());
}

describe('deploy/Dockerfile', () => {
  const text = read('deploy', 'Dockerfile');
  const stages = text.split('\n').filter((l) => /^FROM\s/i.test(l));

  it('is multi-stage, with a production-only npm ci in the runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = text.slice(text.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^RUN npm ci --omit=dev/m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
  });

  it('runs as a non-root user, stops on SIGTERM, checks /healthz, runs the entry point', () => {
    const runtime = text.slice(text.lastIndexOf('\nFROM '));
    const user = /^USER\s+(\S+)/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(runtime).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(runtime).toMatch(/^HEALTHCHECK [^\n]*(\\\n[^\n]*)*\/healthz/m);
    expect(dockerfileCommand()).toEqual(['node', 'dist/silo/main.js']);
    // The bin the package declares is the same file.
    expect(JSON.parse(read('package.json')).bin['granary-silo']).toBe('dist/silo/main.js');
  });

  it('copies every source folder the build needs', () => {
    for (const dir of ['runtime', 'silo', 'client', 'grains']) expect(text).toMatch(new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
    const included = JSON.parse(read('tsconfig.build.json')).include as string[];
    for (const entry of included) expect(text, entry).toContain(entry);
  });
});

describe('deploy/compose.yaml', () => {
  const [compose] = yamlDocs('deploy', 'compose.yaml');

  it('has a NATS cluster of three servers with JetStream, DynamoDB Local, a table-creation step and three silos', () => {
    const services = compose.services as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const natsServers = Object.keys(services).filter((k) => /^nats-\d$/.test(k));
    expect(natsServers).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];
    for (const n of natsServers) {
      const args = services[n].command as string[];
      expect(args.join(' ')).toMatch(/--jetstream|-js/);
      expect(flag(args, '--server_name')).toBe(n);
      expect(flag(args, '--cluster_name')).toBe('granary');
      expect(flag(args, '--cluster')).toBe('nats://0.0.0.0:6222');
      // Routes to the other two (test/nats/clustered.test.ts runs nats-server with these flags).
      expect(flag(args, '--routes')!.split(',').sort()).toEqual(natsServers.filter((o) => o !== n).map((o) => `nats://${o}:6222`));
    }
    expect(services.dynamodb.image).toMatch(/^amazon\/dynamodb-local/);
    const silos = Object.keys(services).filter((k) => /^silo-\d$/.test(k));
    expect(silos).toHaveLength(3);
    for (const s of silos) {
      expect(services[s].depends_on['create-table'].condition).toBe('service_completed_successfully');
      expect(services[s].stop_signal).toBe('SIGTERM');
      expect(services[s].environment.GRANARY_NATS_URL).toBe(natsServers.map((n) => `nats://${n}:4222`).join(','));
      expect(services[s].environment.GRANARY_NATS_REPLICAS).toBe('3');
      for (const n of natsServers) expect(services[s].depends_on[n].condition).toBe('service_healthy');
      expect(services[s].environment.GRANARY_DYNAMODB_ENDPOINT).toBe('http://dynamodb:8000');
      // The stop grace covers the drain bound.
      const graceS = Number(String(services[s].stop_grace_period).replace(/s$/, ''));
      expect(graceS * 1000).toBeGreaterThan(Number(services[s].environment.GRANARY_DRAIN_TIMEOUT_MS));
    }
    expect(services['create-table'].command.join(' ')).toContain('node dist/silo/cli.js create-table');
  });

  it('sets only variables the entry point knows, with values it accepts', () => {
    let checked = 0;
    for (const [name, svc] of Object.entries(compose.services as Record<string, { image?: string; environment?: Record<string, unknown> }>)) {
      // The entry point's services (nats-server has variables of its own: its config's passwords).
      if (!svc.environment || !String(svc.image).startsWith('granary')) continue;
      checked++;
      for (const k of Object.keys(svc.environment)) expect(known, `${name}: ${k}`).toContain(k);
      if (/^silo-/.test(name)) {
        const env = Object.fromEntries(Object.entries(svc.environment).map(([k, v]) => [k, String(v)]));
        expect(() => readConfig(env)).not.toThrow();
        expect(readConfig(env).unknownVars).toEqual([]);
      }
    }
    expect(checked).toBe(4); // three silos and the table-creation step
  });
});

describe('deploy/k8s', () => {
  const files = readdirSync(join(REPO, 'deploy', 'k8s')).filter((f) => f.endsWith('.yaml'));
  const docs = files.flatMap((f) => yamlDocs('deploy', 'k8s', f));
  // The silos' manifests (nats.yaml holds the NATS server's, labelled component "nats").
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind && d.metadata?.labels?.['app.kubernetes.io/component'] !== 'nats');

  it('every manifest parses and the kustomization lists them all', () => {
    expect(docs.length).toBeGreaterThanOrEqual(6);
    const kustomization = byKind('Kustomization')[0];
    expect(new Set(kustomization.resources)).toEqual(new Set(files.filter((f) => f !== 'kustomization.yaml')));
  });

  it('a Deployment with probes, the entry point, and a grace period above the drain bound', () => {
    const [dep] = byKind('Deployment');
    const pod = dep.spec.template.spec;
    const [c] = pod.containers;
    expect(c.command).toEqual(dockerfileCommand());
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const [cm] = byKind('ConfigMap');
    const drainMs = Number(cm.data.GRANARY_DRAIN_TIMEOUT_MS);
    const preStopS = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    expect(drainMs).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs + preStopS * 1000);
    expect(c.envFrom[0].configMapRef.name).toBe(cm.metadata.name);
    expect(c.ports[0].containerPort).toBe(Number(cm.data.GRANARY_PORT));
  });

  it('a Service and a PodDisruptionBudget select the Deployment pods', () => {
    const [dep] = byKind('Deployment');
    const labels = dep.spec.template.metadata.labels as Record<string, string>;
    const [svc] = byKind('Service');
    const [pdb] = byKind('PodDisruptionBudget');
    for (const sel of [svc.spec.selector, pdb.spec.selector.matchLabels]) {
      for (const [k, v] of Object.entries(sel as Record<string, string>)) expect(labels[k]).toBe(v);
    }
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('NATS is a StatefulSet of three servers in one cluster, routed through a headless Service; the silos keep 3 replicas', () => {
    const nats = docs.filter((d) => d.metadata?.labels?.['app.kubernetes.io/component'] === 'nats');
    const set = nats.find((d) => d.kind === 'StatefulSet');
    expect(set.spec.replicas).toBe(3);
    const headless = nats.find((d) => d.kind === 'Service' && d.spec.clusterIP === 'None');
    expect(set.spec.serviceName).toBe(headless.metadata.name);
    const args = set.spec.template.spec.containers[0].args as string[];
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--server_name')).toBe('$(POD_NAME)');
    expect(flag('--cluster')).toBe('nats://0.0.0.0:6222');
    const pods = [0, 1, 2].map((i) => `nats://${set.metadata.name}-${i}.${headless.metadata.name}:6222`);
    expect(flag('--routes')!.split(',')).toEqual(pods);
    const cm = byKind('ConfigMap').find((d) => d.data?.GRANARY_NATS_URL !== undefined);
    expect(cm.data.GRANARY_NATS_REPLICAS).toBe('3');
  });

  it('sets only variables the entry point knows, with values it accepts', () => {
    const [cm] = byKind('ConfigMap');
    for (const k of Object.keys(cm.data)) expect(known, k).toContain(k);
    expect(() => readConfig(cm.data)).not.toThrow();
    for (const d of [...byKind('Deployment'), ...byKind('Job')]) {
      for (const c of d.spec.template.spec.containers) for (const e of c.env ?? []) expect(known, e.name).toContain(e.name);
    }
  });
});

describe('docs/deploy.md', () => {
  it('documents every variable the entry point knows', () => {
    const doc = read('docs', 'deploy.md');
    for (const v of KNOWN_ENV_VAR_NAMES) expect(doc, v).toContain(`| \`${v}\` |`);
  });
});
