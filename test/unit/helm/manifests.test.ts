import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job, type IJob } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parse } from 'yaml';
import { buildConfig } from '../../../src/config/load';
import { ROLE_NAMES, SETTINGS } from '../../../src/config/settings';
import { validateFlow } from '../../../src/flows/validate';
import { CHART, helmScript, isObject, renderCiValues, type Manifest } from './chart';

// Renders helm/flowhook with each ci/*-values.yaml through scripts/helm.sh (which builds the
// pinned helm with `go install` the first time and caches it; that can take a few minutes, hence
// the long hook timeout) and checks the objects: Kubernetes and Prometheus Operator schemas
// (kubernetes-models validators), references between objects, the security context, and that
// each container's environment is accepted by flowhook's own settings loader.

type Validate = (obj: unknown) => void;
function validator<T>(Model: new (data: T) => { validate(): void }): Validate {
  return (obj) => new Model(obj as T).validate();
}
const MODELS: Record<string, Validate> = {
  'v1/ConfigMap': validator(ConfigMap),
  'v1/Secret': validator(Secret),
  'v1/Service': validator(Service),
  'v1/ServiceAccount': validator(ServiceAccount),
  'apps/v1/Deployment': validator(Deployment),
  'autoscaling/v2/HorizontalPodAutoscaler': validator(HorizontalPodAutoscaler),
  'policy/v1/PodDisruptionBudget': validator(PodDisruptionBudget),
  'batch/v1/Job': validator(Job),
  'monitoring.coreos.com/v1/ServiceMonitor': validator(ServiceMonitor),
  'monitoring.coreos.com/v1/PrometheusRule': validator(PrometheusRule),
};

const SETTING_NAMES = new Set<string>(SETTINGS.map((s) => s.name));
const ciValues = (name: string): Record<string, unknown> => {
  const values: unknown = parse(readFileSync(join(CHART, 'ci', `${name}-values.yaml`), 'utf8'));
  if (!isObject(values)) throw new Error(`ci/${name}-values.yaml is not a mapping`);
  return values;
};

let rendered: Map<string, Manifest[]>;
let renderDir = '';
beforeAll(() => {
  ({ dir: renderDir, rendered } = renderCiValues());
}, 15 * 60_000);
afterAll(() => {
  if (renderDir) rmSync(renderDir, { recursive: true, force: true });
});

const objects = (name: string): Manifest[] => {
  const list = rendered.get(name);
  if (!list) throw new Error(`ci/${name}-values.yaml was not rendered`);
  return list;
};
const ofKind = <T = Manifest>(name: string, kind: string): T[] =>
  objects(name).filter((o) => o.kind === kind) as unknown as T[];
const named = (name: string, kind: string, objName: string): Manifest | undefined =>
  objects(name).find((o) => o.kind === kind && o.metadata.name === objName);
const podSpec = (o: IDeployment | IJob): IPodSpec => {
  const spec = o.spec?.template.spec;
  if (!spec) throw new Error(`${o.metadata?.name}: no pod spec`);
  return spec;
};
const roleOf = (d: IDeployment): string =>
  d.metadata?.labels?.['app.kubernetes.io/component'] ?? '';
const CASES = ['default', 'all-on', 'existing-secrets'];

describe('helm/flowhook rendered manifests', () => {
  it('renders every ci/*-values.yaml', () => {
    expect([...rendered.keys()].sort()).toEqual([...CASES].sort());
  });

  it.each(CASES)(
    '%s: every object validates against its Kubernetes / Prometheus Operator schema',
    (name) => {
      const failures: string[] = [];
      for (const obj of objects(name)) {
        const validate = MODELS[`${obj.apiVersion}/${obj.kind}`];
        if (!validate) {
          failures.push(
            `${obj.apiVersion} ${obj.kind} ${obj.metadata.name}: no schema to check it against`,
          );
          continue;
        }
        try {
          validate(obj);
        } catch (err) {
          failures.push(`${obj.kind} ${obj.metadata.name}: ${(err as Error).message}`);
        }
      }
      expect(failures).toEqual([]);
    },
  );

  it(
    'helm lint --strict passes with every ci/*-values.yaml',
    () => {
      expect(() => helmScript(['lint'])).not.toThrow();
    },
    10 * 60_000,
  );

  it(
    'no object has an unknown or duplicate field (strict decoding into the Go API types)',
    () => {
      // kubernetes-models ignores fields it does not know; the API server would drop them silently.
      const out = helmScript(['strict', renderDir]);
      expect(out).toMatch(/strictfields: \d+ objects in 3 files decode strictly/);
    },
    10 * 60_000,
  );

  it.each(CASES)('%s: names are unique DNS labels and objects carry the chart labels', (name) => {
    const seen = new Set<string>();
    for (const obj of objects(name)) {
      const key = `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      expect(obj.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
      expect(obj.metadata.namespace).toBeTruthy();
      expect(obj.metadata.labels?.['app.kubernetes.io/instance']).toBe('flowhook');
      expect(obj.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    }
  });

  it('default: a Deployment, Service and PodDisruptionBudget per role, and nothing optional', () => {
    const kinds = objects('default')
      .map((o) => o.kind)
      .sort();
    expect(kinds).toEqual([
      'ConfigMap',
      'Deployment',
      'Deployment',
      'Deployment',
      'PodDisruptionBudget',
      'PodDisruptionBudget',
      'PodDisruptionBudget',
      'Service',
      'Service',
      'Service',
      'ServiceAccount',
    ]);
    // The admin role (control plane) is not deployed by the chart yet: it needs an OIDC issuer.
    expect(ofKind<IDeployment>('default', 'Deployment').map(roleOf)).toEqual(
      ROLE_NAMES.filter((r) => r !== 'admin'),
    );
  });

  it('all-on: every optional object is rendered', () => {
    const count = (kind: string) => ofKind('all-on', kind).length;
    expect(count('Deployment')).toBe(3);
    expect(count('HorizontalPodAutoscaler')).toBe(3);
    expect(count('PodDisruptionBudget')).toBe(3);
    expect(count('Service')).toBe(3);
    expect(count('ServiceMonitor')).toBe(1);
    expect(count('PrometheusRule')).toBe(1);
    expect(count('Job')).toBe(1);
    expect(count('Secret')).toBe(2); // credentials + header secrets
    expect(count('ConfigMap')).toBe(3); // settings + dashboard + flows
  });

  it.each([
    ['default', 'emptyDir'],
    ['all-on', 'persistentVolumeClaim'],
  ] as const)(
    '%s: every role mounts its state-store volume (%s) at FLOWHOOK_STATE_DIR',
    (name, kind) => {
      for (const d of ofKind<IDeployment>(name, 'Deployment')) {
        const pod = podSpec(d);
        const volume = pod.volumes?.find((v) => v.name === 'state');
        expect(volume?.[kind]).toBeDefined();
        const c = pod.containers[0];
        const mount = c?.volumeMounts?.find((m) => m.name === 'state');
        expect(mount?.mountPath).toBeDefined();
        expect(envOf(c as IContainer).FLOWHOOK_STATE_DIR).toBe(mount?.mountPath);
      }
    },
  );

  it.each(CASES)(
    '%s: pods are restricted, read-only and stop within their grace period',
    (name) => {
      const pods: [string, IPodSpec][] = [
        ...ofKind<IDeployment>(name, 'Deployment').map((d): [string, IPodSpec] => [
          roleOf(d),
          podSpec(d),
        ]),
        ...ofKind<IJob>(name, 'Job').map((j): [string, IPodSpec] => ['job', podSpec(j)]),
      ];
      expect(pods.length).toBeGreaterThan(0);
      for (const [, pod] of pods) {
        expect(pod.enableServiceLinks).toBe(false);
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 10001,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        const tmp = pod.volumes?.find((v) => v.name === 'tmp');
        expect(tmp?.emptyDir).toBeDefined();
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          expect(c.securityContext).toMatchObject({
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            privileged: false,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          });
          expect(c.resources?.requests).toBeDefined();
        }
        for (const c of pod.containers) {
          expect(c.volumeMounts?.find((m) => m.name === 'tmp')?.mountPath).toBe('/tmp');
          // Every mount names a volume of the pod.
          const volumes = new Set(pod.volumes?.map((v) => v.name));
          expect((c.volumeMounts ?? []).filter((m) => !volumes.has(m.name))).toEqual([]);
        }
      }
      for (const d of ofKind<IDeployment>(name, 'Deployment')) {
        const pod = podSpec(d);
        const grace = envOf(pod.containers[0]).FLOWHOOK_SHUTDOWN_GRACE;
        expect(grace).toMatch(/^\d+s$/);
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
          parseInt(grace ?? '', 10) + 5,
        );
      }
    },
  );

  it.each(CASES)(
    '%s: each role runs with its own FLOWHOOK_ROLES, the pod name as instance id, and probes',
    (name) => {
      for (const d of ofKind<IDeployment>(name, 'Deployment')) {
        const role = roleOf(d);
        const pod = podSpec(d);
        expect(pod.containers).toHaveLength(1);
        const c = pod.containers[0];
        expect(c.args).toEqual(['run']);
        expect(ROLE_NAMES as readonly string[]).toContain(role);
        expect(envOf(c).FLOWHOOK_ROLES).toBe(role);
        expect(
          c.env?.find((e) => e.name === 'FLOWHOOK_INSTANCE_ID')?.valueFrom?.fieldRef?.fieldPath,
        ).toBe('metadata.name');
        const port = c.ports?.find((p) => p.name === 'http');
        expect(String(port?.containerPort)).toBe(envOf(c).FLOWHOOK_HTTP_PORT);
        if (name !== 'existing-secrets') {
          expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
          expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
          expect(c.startupProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
        }
        // The selector selects the pod template, and only this role.
        const selector = d.spec?.selector.matchLabels ?? {};
        expect(selector['app.kubernetes.io/component']).toBe(role);
        expect(d.spec?.template.metadata?.labels).toMatchObject(selector);
      }
    },
  );

  it.each(CASES)(
    '%s: every environment variable is a known flowhook setting (or not flowhook’s)',
    (name) => {
      const settingsConfigMap = ofKind(name, 'ConfigMap').find((c) =>
        c.metadata.name.endsWith('-config'),
      );
      const data = (settingsConfigMap?.data ?? {}) as Record<string, string>;
      expect(data.KAFKA_BROKERS).toBeTruthy();
      const names = [...Object.keys(data)];
      for (const d of ofKind<IDeployment>(name, 'Deployment'))
        names.push(...(podSpec(d).containers[0].env ?? []).map((e) => e.name));
      const flowhookLike = names.filter(
        (n) => /^(FLOWHOOK|KAFKA)_/.test(n) && !n.startsWith('FLOWHOOK_SECRET_'),
      );
      expect(flowhookLike.filter((n) => !SETTING_NAMES.has(n))).toEqual([]);
      expect(Object.keys(data).filter((n) => !SETTING_NAMES.has(n))).toEqual([]);
    },
  );

  it.each(CASES)("%s: flowhook's settings loader accepts each container's environment", (name) => {
    const secretsDir = mkdtempSync(join(tmpdir(), 'flowhook-mounts-'));
    try {
      for (const d of ofKind<IDeployment>(name, 'Deployment')) {
        const role = roleOf(d);
        const env = podEnvironment(name, podSpec(d), secretsDir);
        const config = buildConfig(env);
        expect(config.roles).toEqual([role]);
        expect(config.instanceId).toBe('pod-name');
        expect(config.kafka.brokers?.length).toBeGreaterThan(0);
        expect(config.http.port).toBe(podSpec(d).containers[0].ports?.[0].containerPort);
        expect(config.shutdownGraceMs).toBe(parseInt(env.FLOWHOOK_SHUTDOWN_GRACE ?? '', 10) * 1000);
        expect((podSpec(d).terminationGracePeriodSeconds ?? 0) * 1000).toBeGreaterThan(
          config.shutdownGraceMs,
        );
        if (name === 'all-on') {
          expect(config.kafka.sasl).toMatchObject({
            mechanism: 'scram-sha-512',
            username: 'flowhook',
          });
          expect(config.kafka.ssl).not.toBe(false);
          expect(config.topicPartitions).toBe(24);
          expect(config.delivery.maxBodyBytes).toBe(1_000_000);
          if (role === 'delivery') {
            expect(config.delivery.signingSecrets).toHaveLength(2);
            expect(config.delivery.secretsDir).toBe('/var/run/secrets/flowhook/header-secrets');
          } else {
            expect(config.delivery.signingSecrets).toEqual([]);
          }
        }
      }
    } finally {
      rmSync(secretsDir, { recursive: true, force: true });
    }
  });

  it.each(CASES)(
    '%s: Services, PDBs and HPAs point at the Deployments; HPA-scaled ones have no replicas',
    (name) => {
      const deployments = ofKind<IDeployment>(name, 'Deployment');
      const byName = new Map(deployments.map((d) => [d.metadata?.name, d]));
      for (const svc of ofKind<{
        metadata: { name: string };
        spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
      }>(name, 'Service')) {
        const d = byName.get(svc.metadata.name);
        expect(d).toBeDefined();
        expect(svc.spec.selector).toEqual(d?.spec?.selector.matchLabels);
        expect(svc.spec.ports[0]).toMatchObject({ name: 'http', targetPort: 'http' });
      }
      for (const pdb of ofKind<{
        metadata: { name: string };
        spec: { selector: { matchLabels: Record<string, string> } };
      }>(name, 'PodDisruptionBudget')) {
        expect(pdb.spec.selector.matchLabels).toEqual(
          byName.get(pdb.metadata.name)?.spec?.selector.matchLabels,
        );
      }
      const hpas = ofKind<{ spec: { scaleTargetRef: { kind: string; name: string } } }>(
        name,
        'HorizontalPodAutoscaler',
      );
      for (const hpa of hpas) {
        expect(hpa.spec.scaleTargetRef.kind).toBe('Deployment');
        const d = byName.get(hpa.spec.scaleTargetRef.name);
        expect(d).toBeDefined();
        expect(d?.spec?.replicas).toBeUndefined();
      }
      for (const d of deployments) {
        if (!hpas.some((h) => h.spec.scaleTargetRef.name === d.metadata?.name))
          expect(d.spec?.replicas).toBeGreaterThan(0);
      }
    },
  );

  it.each(CASES)(
    '%s: Secret and ConfigMap references resolve (to a chart object or a declared existing one)',
    (name) => {
      const values = ciValues(name);
      const existing = new Set(
        JSON.stringify(values)
          .match(/"existing(?:Secret|ConfigMap)":"([^"]+)"/g)
          ?.map((m) => m.replace(/^.*:"|"$/g, '')) ?? [],
      );
      // Names referenced only from user-supplied extras (extraEnv, extraEnvFrom, extraVolumes).
      for (const extra of ['static-token', 'flowhook-extra-env', 'corporate-ca-bundle'])
        existing.add(extra);
      const chartObject = (kind: string, objName: string) =>
        named(name, kind, objName) !== undefined;
      for (const owner of [
        ...ofKind<IDeployment>(name, 'Deployment'),
        ...ofKind<IJob>(name, 'Job'),
      ]) {
        const pod = podSpec(owner);
        for (const v of pod.volumes ?? []) {
          if (v.secret?.secretName) {
            const ref = v.secret.secretName;
            expect(chartObject('Secret', ref) || existing.has(ref)).toBe(true);
            const secret = named(name, 'Secret', ref);
            // Items of a chart-made Secret must exist in it (a missing key fails the mount).
            for (const item of v.secret.items ?? [])
              if (secret) expect(Object.keys(secret.data as object)).toContain(item.key);
          }
          if (v.configMap?.name)
            expect(
              chartObject('ConfigMap', v.configMap.name) || existing.has(v.configMap.name),
            ).toBe(true);
        }
        for (const c of pod.containers) {
          for (const e of c.env ?? []) {
            const ref = e.valueFrom?.secretKeyRef;
            if (!ref?.name) continue;
            const secret = named(name, 'Secret', ref.name);
            if (secret) expect(Object.keys(secret.data as object)).toContain(ref.key);
            else expect(existing.has(ref.name)).toBe(true);
          }
          for (const f of c.envFrom ?? []) {
            if (f.configMapRef?.name)
              expect(chartObject('ConfigMap', f.configMapRef.name)).toBe(true);
          }
        }
        expect(pod.serviceAccountName).toBeTruthy();
        if (name !== 'existing-secrets')
          expect(chartObject('ServiceAccount', pod.serviceAccountName ?? '')).toBe(true);
      }
    },
  );

  it('all-on: the ServiceMonitor selects every role Service on its port', () => {
    const [sm] = ofKind<{
      metadata: { namespace: string };
      spec: {
        selector: { matchLabels: Record<string, string> };
        namespaceSelector: { matchNames: string[] };
        endpoints: { port: string; path: string; interval: string; scrapeTimeout: string }[];
      };
    }>('all-on', 'ServiceMonitor');
    expect(sm.metadata.namespace).toBe('monitoring');
    expect(sm.spec.namespaceSelector.matchNames).toEqual(['flowhook']);
    expect(sm.spec.endpoints).toEqual([
      expect.objectContaining({
        port: 'http',
        path: '/metrics',
        interval: '15s',
        scrapeTimeout: '10s',
      }),
    ]);
    const services = ofKind('all-on', 'Service');
    expect(services).toHaveLength(3);
    for (const svc of services)
      expect(svc.metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
  });

  it('all-on: the PrometheusRule carries every alert with its thresholds filled in', () => {
    const [rule] = ofKind<{
      spec: {
        groups: {
          rules: { alert: string; expr: string; for: string; labels: Record<string, string> }[];
        }[];
      };
    }>('all-on', 'PrometheusRule');
    const rules = rule.spec.groups[0].rules;
    expect(rules.map((r) => r.alert)).toEqual([
      'FlowhookWebhookDeadLetters',
      'FlowhookConsumerLagGrowing',
      'FlowhookCircuitsOpen',
      'FlowhookNoDeliveries',
      'FlowhookRoleNotReady',
      'FlowhookEventsInvalid',
    ]);
    for (const r of rules) expect(r.expr).not.toContain('$threshold');
    expect(rules[0]).toMatchObject({ for: '5m', labels: { severity: 'critical', team: 'growth' } });
    expect(rules[0].expr).toContain('> 0.5');
    expect(rules[1].expr).toContain('> 50000');
  });

  it('all-on: the dashboard ConfigMap carries dashboards/flowhook.json for the Grafana sidecar', () => {
    const cm = ofKind('all-on', 'ConfigMap').find((c) => c.metadata.name.endsWith('-dashboard'));
    expect(cm?.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm?.metadata.annotations?.grafana_folder).toBe('Webhooks');
    const json = (cm?.data as Record<string, string>)['flowhook.json'];
    expect(JSON.parse(json)).toEqual(
      JSON.parse(readFileSync(join(CHART, 'dashboards', 'flowhook.json'), 'utf8')),
    );
  });

  it('all-on: the flows Job is a post-install/upgrade hook applying valid inline flows', () => {
    const [job] = ofKind<IJob>('all-on', 'Job');
    expect(job.metadata?.annotations).toMatchObject({
      'helm.sh/hook': 'post-install,post-upgrade',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
    });
    const pod = podSpec(job);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.initContainers?.[0].env?.find((e) => e.name === 'READY_URL')?.value).toBe(
      'http://flowhook-hooks-trigger.flowhook.svc:9102/readyz',
    );
    expect(pod.containers[0].command?.join(' ')).toContain(
      'dist/src/cli.js flows apply /etc/flowhook/flows/',
    );
    const flowsVolume = pod.volumes?.find((v) => v.name === 'flows');
    const cm = named('all-on', 'ConfigMap', flowsVolume?.configMap?.name ?? '');
    const docs: unknown = JSON.parse((cm?.data as Record<string, string>)['flows.json']);
    expect(Array.isArray(docs) && docs.length > 0).toBe(true);
    for (const doc of docs as unknown[]) {
      const result = validateFlow(doc, { allowHttp: false });
      expect(result.ok ? [] : result.problems).toEqual([]);
    }
  });

  it('existing-secrets: mounts the existing Secrets with the configured keys and no chart credentials', () => {
    const delivery = ofKind<IDeployment>('existing-secrets', 'Deployment').find(
      (d) => roleOf(d) === 'delivery',
    );
    const pod = podSpec(delivery as IDeployment);
    const tls = pod.volumes?.find((v) => v.name === 'kafka-tls')?.secret;
    expect(tls).toMatchObject({
      secretName: 'flowhook-kafka-client-tls',
      items: [
        { key: 'ca.crt', path: 'ca.crt' },
        { key: 'tls.crt', path: 'tls.crt' },
        { key: 'tls.key', path: 'tls.key' },
      ],
    });
    expect(pod.volumes?.find((v) => v.name === 'header-secrets')?.secret?.secretName).toBe(
      'flowhook-header-secrets',
    );
    const signing = pod.containers[0].env?.find((e) => e.name === 'FLOWHOOK_SIGNING_SECRET');
    expect(signing?.valueFrom?.secretKeyRef).toEqual({ name: 'flowhook-signing', key: 'current' });
    // The only chart Secret holds the inline SASL password.
    const secrets = ofKind('existing-secrets', 'Secret');
    expect(secrets.map((s) => Object.keys(s.data as object))).toEqual([['kafka-sasl-password']]);
    expect(ofKind<IDeployment>('existing-secrets', 'Deployment').map(roleOf)).toEqual([
      'trigger',
      'delivery',
    ]);
    expect(ofKind('existing-secrets', 'ServiceAccount')).toEqual([]);
  });
});

describe('helm/flowhook refuses values that would fail at start-up', () => {
  const template =
    (...set: string[]) =>
    () =>
      helmScript(['helm', 'template', 'flowhook', CHART, ...set.flatMap((s) => ['--set', s])]);
  const failure = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      return String((err as { stderr?: string }).stderr ?? err);
    }
    return 'rendered without an error';
  };

  it(
    'without config.KAFKA_BROKERS',
    () => {
      expect(failure(template())).toContain('config.KAFKA_BROKERS is required');
    },
    15 * 60_000,
  );

  it('with a setting the chart derives itself under config', () => {
    expect(failure(template('config.KAFKA_BROKERS=k:9092', 'config.FLOWHOOK_ROLES=all'))).toContain(
      'config.FLOWHOOK_ROLES is set by the chart',
    );
    expect(
      failure(template('config.KAFKA_BROKERS=k:9092', 'config.FLOWHOOK_SIGNING_SECRET=whsec_x')),
    ).toContain('use signing.secret or signing.existingSecret');
  });

  it('with SASL but no password, or no role at all', () => {
    expect(
      failure(template('config.KAFKA_BROKERS=k:9092', 'config.KAFKA_SASL_MECHANISM=plain')),
    ).toContain('no password');
    expect(
      failure(
        template(
          'config.KAFKA_BROKERS=k:9092',
          'roles.trigger.enabled=false',
          'roles.delivery.enabled=false',
          'roles.delay.enabled=false',
        ),
      ),
    ).toContain('no role is enabled');
  });
});

// ---- environment of a rendered container, as flowhook would see it ----

function envOf(c: IContainer): Record<string, string | undefined> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
}

/**
 * The environment of a pod's first container: the settings ConfigMap (envFrom), then `env`
 * with the downward API and Secret references resolved, and mounted credential files recreated
 * under `root` (with the content of the chart's Secret, or a placeholder for existing ones).
 */
function podEnvironment(name: string, pod: IPodSpec, root: string): Record<string, string> {
  const c = pod.containers[0];
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const cm = from.configMapRef?.name
      ? named(name, 'ConfigMap', from.configMapRef.name)
      : undefined;
    Object.assign(env, (cm?.data ?? {}) as Record<string, string>);
  }
  const secretValue = (secretName: string, key: string, placeholder: string): string => {
    const secret = named(name, 'Secret', secretName);
    const data = (secret?.data ?? {}) as Record<string, string>;
    return data[key] !== undefined
      ? Buffer.from(data[key], 'base64').toString('utf8')
      : placeholder;
  };
  const placeholderFor = (key: string) =>
    /sign|current/.test(key) ? 'whsec_cGxhY2Vob2xkZXI=' : `placeholder for ${key}`;
  // Mounted Secret files, recreated under root.
  const mounts = new Map<string, string>();
  for (const m of c.volumeMounts ?? []) {
    const secret = pod.volumes?.find((v) => v.name === m.name)?.secret;
    if (!secret?.secretName) continue;
    const dir = join(root, m.mountPath);
    mkdirSync(dir, { recursive: true });
    mounts.set(m.mountPath, dir);
    for (const item of secret.items ?? []) {
      const file = join(dir, item.path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, secretValue(secret.secretName, item.key, placeholderFor(item.key)));
    }
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) {
      const mount = [...mounts.keys()].find((p) => e.value?.startsWith(`${p}/`));
      env[e.name] = mount ? join(root, e.value) : e.value;
    } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') {
      env[e.name] = 'pod-name';
    } else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      env[e.name] = secretValue(ref.name ?? '', ref.key, placeholderFor(ref.key));
    }
  }
  return env;
}
