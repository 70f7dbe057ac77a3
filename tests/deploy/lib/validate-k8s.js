#!/usr/bin/env node
// Validates a rendered kustomize overlay (multi-document YAML):
//   1. every object against its schema: npm kubernetes-models (core, apps, networking, autoscaling,
//      policy, batch) and @kubernetes-models/prometheus-operator (ServiceMonitor, PrometheusRule);
//      an object of a kind neither knows is an error; then every key against the models' TypeScript
//      declarations (lib/strict-fields.js), which the validators do not do: misspelt fields fail;
//   2. the fields Forge relies on (the schemas cannot say "the readiness probe is /health/ready",
//      and they accept misspelt field names), cross-references between objects, and that the
//      PrometheusRule and dashboard ConfigMap carry exactly deploy/monitoring's files.
// usage: node validate-k8s.js RENDERED.yaml --namespace NS --environment ENV [--src REPO_ROOT] [--no-strict]
// Prints one line per problem; exits 1 when there is any.
'use strict';
const fs = require('fs');
const path = require('path');
const util = require('util');
const YAML = require('yaml');

const args = process.argv.slice(2);
function opt(name, def) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
}
const renderedFile = args[0];
const NS = opt('namespace');
const ENV = opt('environment');
const SRC = opt('src', path.resolve(__dirname, '../../..'));
if (!renderedFile || !NS || !ENV) {
  console.error('usage: validate-k8s.js RENDERED.yaml --namespace NS --environment ENV [--src DIR]');
  process.exit(2);
}

const problems = [];
const err = (where, msg) => problems.push(`${where}: ${msg}`);

// ---- 1. schemas ----------------------------------------------------------------------------------
function modelFor(apiVersion, kind) {
  const candidates = [];
  if (apiVersion === 'monitoring.coreos.com/v1') {
    candidates.push(`@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1`);
  } else {
    candidates.push(`kubernetes-models/${apiVersion}`);
  }
  for (const mod of candidates) {
    try {
      const m = require(mod);
      if (m[kind]) return m[kind];
    } catch (e) {
      /* not this module */
    }
  }
  return null;
}

function formatValidationError(e) {
  // kubernetes-models throws an ajv-style error with .errors [{instancePath, message}]
  if (e && Array.isArray(e.errors) && e.errors.length) {
    return e.errors.map((x) => `${x.instancePath || '/'} ${x.message}`).join('; ');
  }
  return String(e && e.message ? e.message : e).split('\n').slice(0, 6).join(' | ');
}

const text = fs.readFileSync(renderedFile, 'utf8');
const docs = YAML.parseAllDocuments(text);
const objs = [];
for (const d of docs) {
  if (d.errors && d.errors.length) {
    err('yaml', d.errors.map((e) => e.message).join('; '));
    continue;
  }
  const o = d.toJS();
  if (o == null) continue;
  objs.push(o);
}
if (objs.length === 0) err('render', 'no objects');

for (const o of objs) {
  const where = `${o.kind || '?'}/${(o.metadata && o.metadata.name) || '?'}`;
  const Model = modelFor(o.apiVersion, o.kind);
  if (!Model) {
    err(where, `no schema for ${o.apiVersion} ${o.kind}`);
    continue;
  }
  try {
    new Model(o).validate();
  } catch (e) {
    err(where, `schema: ${formatValidationError(e)}`);
  }
}

// unknown (misspelt) fields: the validators accept them, the models' type declarations do not
// (--no-strict skips this ~2 s step; test_k8s.sh uses it for broken copies aimed at other checks)
if (!args.includes('--no-strict')) try {
  const strict = require('./strict-fields.js').createChecker(objs);
  for (const o of objs) {
    for (const p of strict.check(o)) err(`${o.kind}/${(o.metadata && o.metadata.name) || '?'}`, p);
  }
} catch (e) {
  err('unknown-field check', `could not run: ${e.message}`);
}

// ---- 2. the fields Forge relies on --------------------------------------------------------------
const byKind = (kind) => objs.filter((o) => o.kind === kind);
const find = (kind, name) => objs.find((o) => o.kind === kind && o.metadata && o.metadata.name === name);
const get = (o, p) => p.split('.').reduce((a, k) => (a == null ? undefined : a[k]), o);
function expect(where, o, p, want) {
  const got = get(o, p);
  if (!util.isDeepStrictEqual(got, want)) err(where, `${p} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
}
function selectorMatches(sel, labels) {
  if (!sel || !labels) return false;
  const ml = sel.matchLabels || sel;
  return Object.keys(ml).length > 0 && Object.entries(ml).every(([k, v]) => labels[k] === v);
}
const memBytes = (q) => {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(String(q));
  if (!m) return NaN;
  return Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2]] || 1);
};

// every namespaced object lands in the overlay's namespace, and the Namespace itself exists
const namespaces = byKind('Namespace');
if (namespaces.length !== 1 || namespaces[0].metadata.name !== NS) {
  err('Namespace', `expected exactly one Namespace "${NS}", got ${JSON.stringify(namespaces.map((n) => n.metadata.name))}`);
} else {
  const l = namespaces[0].metadata.labels || {};
  if (l['pod-security.kubernetes.io/enforce'] !== 'restricted') err('Namespace', 'pod-security.kubernetes.io/enforce is not "restricted"');
}
for (const o of objs) {
  if (o.kind !== 'Namespace' && (!o.metadata || o.metadata.namespace !== NS)) {
    err(`${o.kind}/${o.metadata && o.metadata.name}`, `namespace is ${o.metadata && o.metadata.namespace}, expected ${NS}`);
  }
}

// config and secret names the pods read
const cfg = find('ConfigMap', 'forge-config');
if (!cfg) err('ConfigMap/forge-config', 'missing');
const cfgData = (cfg && cfg.data) || {};
if (cfg) {
  expect('ConfigMap/forge-config', cfg, 'data.ENVIRONMENT', ENV);
  if (cfgData.HOST !== '0.0.0.0') err('ConfigMap/forge-config', 'HOST must be 0.0.0.0 inside a pod');
  for (const [k, v] of Object.entries(cfgData)) {
    if (typeof v !== 'string') err('ConfigMap/forge-config', `${k} is not a string`);
    if (/SECRET|PASSWORD|MASTER_KEY|API_KEY/.test(k)) err('ConfigMap/forge-config', `${k} is a secret: it belongs in the Secret`);
  }
  // every key must be a variable Forge reads (src/util/config.c): catches misspelt names
  const configC = path.join(SRC, 'src/util/config.c');
  if (fs.existsSync(configC)) {
    const known = new Set([...fs.readFileSync(configC, 'utf8').matchAll(/\b(?:S|I|B|E|D|SEC)\("([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]));
    if (known.size >= 10) {
      for (const k of Object.keys(cfgData)) {
        if (!known.has(k)) err('ConfigMap/forge-config', `${k} is not a configuration variable of forge (src/util/config.c)`);
      }
    }
  }
}

function checkPodSpec(where, spec, podLabels, { container: cname, needsProbes }) {
  expect(where, spec, 'serviceAccountName', 'forge');
  expect(where, spec, 'automountServiceAccountToken', false);
  const sc = spec.securityContext || {};
  if (sc.runAsNonRoot !== true) err(where, 'pod securityContext.runAsNonRoot is not true');
  if (sc.runAsUser !== 10001) err(where, 'pod securityContext.runAsUser is not 10001 (the image user)');
  if (get(sc, 'seccompProfile.type') !== 'RuntimeDefault') err(where, 'pod seccompProfile is not RuntimeDefault');
  if (!sa) err(where, 'ServiceAccount forge missing');
  const c = (spec.containers || []).find((x) => x.name === cname);
  if (!c) {
    err(where, `no container "${cname}"`);
    return null;
  }
  const cw = `${where} container ${cname}`;
  if (!/^ghcr\.io\/[^:]+\/forge:[^:]+$/.test(c.image || '')) err(cw, `image "${c.image}" is not ghcr.io/<owner>/forge:<tag> (kustomize images transformer)`);
  const csc = c.securityContext || {};
  if (csc.allowPrivilegeEscalation !== false) err(cw, 'allowPrivilegeEscalation is not false');
  if (csc.readOnlyRootFilesystem !== true) err(cw, 'readOnlyRootFilesystem is not true');
  if (csc.privileged === true) err(cw, 'privileged');
  if (!util.isDeepStrictEqual(get(csc, 'capabilities.drop'), ['ALL'])) err(cw, 'capabilities.drop is not [ALL]');
  if (get(csc, 'capabilities.add')) err(cw, 'adds capabilities');
  if (csc.runAsNonRoot !== true && sc.runAsNonRoot !== true) err(cw, 'runAsNonRoot not set');
  if (get(csc, 'seccompProfile.type') && get(csc, 'seccompProfile.type') !== 'RuntimeDefault') err(cw, 'seccompProfile is not RuntimeDefault');
  // a read-only root needs a writable /tmp
  const vols = spec.volumes || [];
  const tmp = (c.volumeMounts || []).find((m) => m.mountPath === '/tmp');
  const tmpVol = tmp && vols.find((v) => v.name === tmp.name);
  if (!tmpVol || !tmpVol.emptyDir) err(cw, '/tmp is not an emptyDir mount');
  for (const m of c.volumeMounts || []) {
    if (!vols.find((v) => v.name === m.name)) err(cw, `volumeMount ${m.name} has no volume`);
  }
  // configuration from forge-config and forge-secrets
  const ef = c.envFrom || [];
  if (!ef.find((e) => get(e, 'configMapRef.name') === 'forge-config')) err(cw, 'envFrom lacks configMapRef forge-config');
  if (!ef.find((e) => get(e, 'secretRef.name') === 'forge-secrets')) err(cw, 'envFrom lacks secretRef forge-secrets');
  const r = c.resources || {};
  for (const k of ['requests', 'limits']) {
    if (!get(r, `${k}.cpu`) || !get(r, `${k}.memory`)) err(cw, `resources.${k} needs cpu and memory`);
  }
  if (memBytes(get(r, 'requests.memory')) > memBytes(get(r, 'limits.memory'))) err(cw, 'memory request above limit');
  return c;
}

const sa = find('ServiceAccount', 'forge');
if (sa) expect('ServiceAccount/forge', sa, 'automountServiceAccountToken', false);

// Deployment
const dep = find('Deployment', 'forge-api');
let podLabels = null;
let container = null;
if (!dep) err('Deployment/forge-api', 'missing');
else {
  const w = 'Deployment/forge-api';
  expect(w, dep, 'spec.replicas', 3);
  expect(w, dep, 'spec.strategy.type', 'RollingUpdate');
  expect(w, dep, 'spec.strategy.rollingUpdate.maxUnavailable', 0);
  expect(w, dep, 'spec.strategy.rollingUpdate.maxSurge', 1);
  podLabels = get(dep, 'spec.template.metadata.labels') || {};
  if (!selectorMatches(get(dep, 'spec.selector'), podLabels)) err(w, 'selector does not match the pod template labels');
  const spec = get(dep, 'spec.template.spec') || {};
  container = checkPodSpec(w, spec, podLabels, { container: 'forge' });
  const tsc = (spec.topologySpreadConstraints || []).find((t) => t.topologyKey === 'topology.kubernetes.io/zone');
  if (!tsc) err(w, 'no topologySpreadConstraint across topology.kubernetes.io/zone');
  else if (!selectorMatches(tsc.labelSelector, podLabels)) err(w, 'zone spread labelSelector does not select the pods');
  if (container) {
    const cw = `${w} container forge`;
    const port = (container.ports || []).find((p) => p.name === 'http');
    if (!port) err(cw, 'no container port named http');
    else if (String(port.containerPort) !== (cfgData.PORT || '8000')) err(cw, `port http ${port.containerPort} differs from PORT ${cfgData.PORT}`);
    const probe = (kind, p) => {
      const pr = container[kind];
      if (!pr) return err(cw, `no ${kind}`);
      if (get(pr, 'httpGet.path') !== p) err(cw, `${kind} path is ${get(pr, 'httpGet.path')}, expected ${p}`);
      if (get(pr, 'httpGet.port') !== 'http') err(cw, `${kind} port is ${get(pr, 'httpGet.port')}, expected the named port http`);
    };
    probe('livenessProbe', '/health');
    probe('readinessProbe', '/health/ready');
    probe('startupProbe', '/health');
    expect(cw, container, 'resources.requests', { cpu: '250m', memory: '256Mi' });
    expect(cw, container, 'resources.limits', { cpu: '500m', memory: '512Mi' });
    // graceful shutdown fits in the grace period: preStop sleep + drain < terminationGracePeriodSeconds
    const grace = spec.terminationGracePeriodSeconds;
    const cmd = get(container, 'lifecycle.preStop.exec.command') || [];
    const preStop = cmd[0] === 'sleep' ? Number(cmd[1]) : 0;
    const drain = Number(cfgData.SHUTDOWN_TIMEOUT_S || 25);
    if (!(grace >= 30)) err(w, `terminationGracePeriodSeconds ${grace} < 30`);
    if (!(preStop + drain < grace)) err(w, `preStop ${preStop} s + SHUTDOWN_TIMEOUT_S ${drain} s does not fit in terminationGracePeriodSeconds ${grace}`);
  }
}

// Service
const svc = find('Service', 'forge-api');
if (!svc) err('Service/forge-api', 'missing (its name is the service="forge-api" label of every metric)');
else {
  const w = 'Service/forge-api';
  if (podLabels && !selectorMatches(svc.spec.selector, podLabels)) err(w, 'selector does not select the Deployment pods');
  const sp = (svc.spec.ports || []).find((p) => p.name === 'http');
  if (!sp) err(w, 'no port named http');
  else if (container && sp.targetPort !== 'http' && !(container.ports || []).find((p) => p.containerPort === sp.targetPort)) {
    err(w, `targetPort ${sp.targetPort} is no container port`);
  }
}

// Ingress
const ing = find('Ingress', 'forge-api');
const KNOWN_NGINX = new Set(['limit-rps', 'limit-rpm', 'limit-connections', 'limit-burst-multiplier', 'limit-whitelist',
  'limit-rate', 'limit-rate-after', 'force-ssl-redirect', 'ssl-redirect', 'proxy-body-size', 'proxy-read-timeout',
  'proxy-send-timeout', 'proxy-connect-timeout', 'proxy-buffering', 'enable-cors', 'cors-allow-origin',
  'configuration-snippet', 'server-snippet', 'backend-protocol', 'use-regex', 'rewrite-target', 'whitelist-source-range',
  'denylist-source-range', 'ssl-passthrough', 'affinity', 'proxy-next-upstream', 'proxy-next-upstream-tries',
  'enable-modsecurity', 'enable-owasp-core-rules', 'hsts', 'hsts-max-age', 'hsts-include-subdomains']);
if (!ing) err('Ingress/forge-api', 'missing');
else {
  const w = 'Ingress/forge-api';
  expect(w, ing, 'spec.ingressClassName', 'nginx');
  const ann = ing.metadata.annotations || {};
  if (!ann['cert-manager.io/cluster-issuer']) err(w, 'no cert-manager.io/cluster-issuer annotation');
  if (!ann['nginx.ingress.kubernetes.io/limit-rps'] && !ann['nginx.ingress.kubernetes.io/limit-rpm']) err(w, 'no ingress-nginx rate limit (limit-rps / limit-rpm)');
  for (const [k, v] of Object.entries(ann)) {
    const m = /^nginx\.ingress\.kubernetes\.io\/(.+)$/.exec(k);
    if (m && !KNOWN_NGINX.has(m[1])) err(w, `annotation ${k} is not an ingress-nginx annotation this check knows (typo?)`);
    if (/^nginx\.ingress\.kubernetes\.io\/limit-(rps|rpm|connections|burst-multiplier)$/.test(k) && !/^\d+$/.test(String(v))) err(w, `${k} must be an integer string`);
  }
  const tlsHosts = new Set((ing.spec.tls || []).flatMap((t) => t.hosts || []));
  if (!(ing.spec.tls || []).every((t) => t.secretName)) err(w, 'tls entry without secretName');
  for (const r of ing.spec.rules || []) {
    if (!tlsHosts.has(r.host)) err(w, `host ${r.host} is not covered by tls`);
    for (const p of get(r, 'http.paths') || []) {
      const b = get(p, 'backend.service') || {};
      if (b.name !== 'forge-api') err(w, `backend service ${b.name} is not forge-api`);
      if (get(b, 'port.name') !== 'http') err(w, 'backend port is not the named port http');
    }
  }
}

// HPA
const hpa = find('HorizontalPodAutoscaler', 'forge-api');
if (!hpa) err('HorizontalPodAutoscaler/forge-api', 'missing');
else {
  const w = 'HorizontalPodAutoscaler/forge-api';
  expect(w, hpa, 'apiVersion', 'autoscaling/v2');
  expect(w, hpa, 'spec.scaleTargetRef', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'forge-api' });
  expect(w, hpa, 'spec.minReplicas', 3);
  expect(w, hpa, 'spec.maxReplicas', 10);
  const util_ = (n) => {
    const m = (hpa.spec.metrics || []).find((x) => x.type === 'Resource' && get(x, 'resource.name') === n);
    return m && get(m, 'resource.target.averageUtilization');
  };
  if (util_('cpu') !== 70) err(w, `cpu target ${util_('cpu')}, expected 70`);
  if (util_('memory') !== 80) err(w, `memory target ${util_('memory')}, expected 80`);
}

// PDB
const pdb = find('PodDisruptionBudget', 'forge-api');
if (!pdb) err('PodDisruptionBudget/forge-api', 'missing');
else if (podLabels && !selectorMatches(pdb.spec.selector, podLabels)) err('PodDisruptionBudget/forge-api', 'selector does not select the pods');
else if (!(pdb.spec.maxUnavailable >= 1 || (pdb.spec.minAvailable != null && pdb.spec.minAvailable < 3))) err('PodDisruptionBudget/forge-api', 'allows no disruption at 3 replicas (drains would hang)');

// NetworkPolicies
const np = find('NetworkPolicy', 'forge-api');
if (!np) err('NetworkPolicy/forge-api', 'missing');
else {
  const w = 'NetworkPolicy/forge-api';
  if (podLabels && !selectorMatches(np.spec.podSelector, podLabels)) err(w, 'podSelector does not select the api pods');
  expect(w, np, 'spec.policyTypes', ['Ingress', 'Egress']);
  const fromNs = new Set();
  for (const r of np.spec.ingress || []) {
    if (!r.from || r.from.length === 0) err(w, 'an ingress rule allows every source');
    for (const f of r.from || []) {
      const n = get(f, 'namespaceSelector.matchLabels')?.['kubernetes.io/metadata.name'];
      if (!n || f.ipBlock) err(w, `ingress source ${JSON.stringify(f)} is not a namespace`);
      else fromNs.add(n);
    }
  }
  if (!util.isDeepStrictEqual([...fromNs].sort(), ['ingress-nginx', 'monitoring'])) err(w, `ingress from ${[...fromNs]}, expected ingress-nginx and monitoring`);
  const egressPorts = new Set();
  for (const r of np.spec.egress || []) for (const p of r.ports || []) egressPorts.add(`${p.protocol || 'TCP'}/${p.port}`);
  for (const need of ['UDP/53', 'TCP/53', 'TCP/5432', 'TCP/6379', 'TCP/9092', 'TCP/443']) {
    if (!egressPorts.has(need)) err(w, `no egress to ${need}`);
  }
  const dns = (np.spec.egress || []).find((r) => (r.ports || []).some((p) => p.port === 53));
  if (dns && !(dns.to || []).some((t) => get(t, 'namespaceSelector.matchLabels')?.['kubernetes.io/metadata.name'] === 'kube-system')) err(w, 'DNS egress is not limited to kube-system');
}
const deny = byKind('NetworkPolicy').find((n) => util.isDeepStrictEqual(n.spec.podSelector, {}));
if (!deny) err('NetworkPolicy', 'no default-deny policy (podSelector: {})');

// backup CronJob
const cj = find('CronJob', 'forge-backup');
if (!cj) err('CronJob/forge-backup', 'missing');
else {
  const w = 'CronJob/forge-backup';
  if (!/^(\S+\s+){4}\S+$/.test(cj.spec.schedule || '')) err(w, `schedule "${cj.spec.schedule}" is not 5 cron fields`);
  expect(w, cj, 'spec.concurrencyPolicy', 'Forbid');
  const spec = get(cj, 'spec.jobTemplate.spec.template.spec') || {};
  const c = checkPodSpec(w, spec, get(cj, 'spec.jobTemplate.spec.template.metadata.labels'), { container: 'backup' });
  if (c) {
    const cmd = [...(c.command || []), ...(c.args || [])].join(' ');
    if (!/\bforge backup\b/.test(cmd)) err(w, 'does not run `forge backup`');
    const bm = (c.volumeMounts || []).find((m) => m.mountPath === '/backups');
    const bv = bm && (spec.volumes || []).find((v) => v.name === bm.name);
    const claim = bv && get(bv, 'persistentVolumeClaim.claimName');
    if (!claim) err(w, '/backups is not a PersistentVolumeClaim');
    else if (!find('PersistentVolumeClaim', claim)) err(w, `PVC ${claim} is not in the render`);
    if (dep && container && c.image !== container.image) err(w, 'image differs from the Deployment image');
  }
  const bnp = byKind('NetworkPolicy').find((n) => selectorMatches(n.spec.podSelector, get(cj, 'spec.jobTemplate.spec.template.metadata.labels')));
  if (!bnp) err(w, 'no NetworkPolicy selects the backup pods');
}

// ServiceMonitor
const sm = find('ServiceMonitor', 'forge-api');
if (!sm) err('ServiceMonitor/forge-api', 'missing');
else {
  const w = 'ServiceMonitor/forge-api';
  if (svc && !selectorMatches(sm.spec.selector, svc.metadata.labels)) err(w, 'selector does not match the Service labels');
  const ep = (sm.spec.endpoints || [])[0] || {};
  if (ep.port !== 'http') err(w, `endpoint port ${ep.port}, expected http`);
  if (ep.path !== '/metrics') err(w, `endpoint path ${ep.path}, expected /metrics`);
  if (ep.interval !== '30s') err(w, `interval ${ep.interval}, expected 30s`);
}

// PrometheusRule == deploy/monitoring/alerts.yaml, every alert documented
const pr = byKind('PrometheusRule')[0];
if (!pr) err('PrometheusRule', 'missing');
else {
  const w = `PrometheusRule/${pr.metadata.name}`;
  const alertsFile = path.join(SRC, 'deploy/monitoring/alerts.yaml');
  const plain = YAML.parse(fs.readFileSync(alertsFile, 'utf8'));
  // kustomize (kyaml) may re-flow blank lines inside block scalars: compare PromQL modulo whitespace
  const norm = (groups) => JSON.parse(JSON.stringify(groups || []), (k, v) => (k === 'expr' && typeof v === 'string' ? v.replace(/\s+/g, ' ').trim() : v));
  if (!util.isDeepStrictEqual(norm(pr.spec.groups), norm(plain.groups))) {
    err(w, 'spec.groups differ from deploy/monitoring/alerts.yaml (regenerate: node tests/deploy/lib/gen-prometheusrule.js > deploy/monitoring/prometheusrule.yaml)');
  }
  for (const g of pr.spec.groups || []) {
    for (const r of g.rules || []) {
      if (!r.alert) continue;
      const aw = `${w} alert ${r.alert}`;
      if (!['critical', 'warning', 'info'].includes(get(r, 'labels.severity'))) err(aw, 'severity label missing or not critical|warning|info');
      for (const a of ['summary', 'description', 'runbook_url']) if (!get(r, `annotations.${a}`)) err(aw, `annotation ${a} missing`);
      const m = /\/(docs\/operations\/runbooks\/([A-Za-z0-9_-]+)\.md)$/.exec(get(r, 'annotations.runbook_url') || '');
      if (!m) err(aw, 'runbook_url does not point to docs/operations/runbooks/<alert>.md');
      else {
        if (m[2] !== r.alert) err(aw, `runbook_url names ${m[2]}.md, expected ${r.alert}.md`);
        if (!fs.existsSync(path.join(SRC, m[1]))) err(aw, `${m[1]} does not exist`);
      }
    }
  }
}

// Grafana dashboard ConfigMap == deploy/monitoring/dashboards/forge.json
const dash = byKind('ConfigMap').find((c) => get(c, 'metadata.labels.grafana_dashboard') === '1');
if (!dash) err('ConfigMap', 'no Grafana dashboard ConfigMap (label grafana_dashboard: "1")');
else {
  const want = fs.readFileSync(path.join(SRC, 'deploy/monitoring/dashboards/forge.json'), 'utf8');
  if ((dash.data || {})['forge.json'] !== want) err(`ConfigMap/${dash.metadata.name}`, 'data["forge.json"] differs from deploy/monitoring/dashboards/forge.json');
}

if (problems.length) {
  for (const p of problems) console.log(`  - ${p}`);
  console.log(`${renderedFile}: ${problems.length} problem(s) in ${objs.length} objects`);
  process.exit(1);
}
console.log(`${renderedFile}: ${objs.length} objects valid (${[...new Set(objs.map((o) => o.kind))].join(', ')})`);
