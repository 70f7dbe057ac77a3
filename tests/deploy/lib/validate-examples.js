#!/usr/bin/env node
// Checks deploy/k8s/examples: the Secret template (kubernetes-models schema) and the
// ExternalSecret example (external-secrets.io/v1beta1; kubernetes-models has no schema for it, so
// its fields are checked here), and that both provide every key the pods and docs rely on.
//   usage: node validate-examples.js SECRET_TEMPLATE.yaml EXTERNALSECRET.yaml
'use strict';
const fs = require('fs');
const YAML = require('yaml');
const { Secret } = require('kubernetes-models/v1');

const [secretFile, esFile] = process.argv.slice(2);
const problems = [];
const REQUIRED_KEYS = ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'FORGE_MASTER_KEY'];

const secret = YAML.parse(fs.readFileSync(secretFile, 'utf8'));
try {
  new Secret(secret).validate();
} catch (e) {
  problems.push(`Secret template: schema: ${(e.errors || []).map((x) => `${x.instancePath} ${x.message}`).join('; ') || e.message}`);
}
if (secret.kind !== 'Secret' || secret.metadata?.name !== 'forge-secrets') problems.push('Secret template: not a Secret named forge-secrets');
const tplKeys = Object.keys(secret.stringData || {});
for (const k of REQUIRED_KEYS) if (!tplKeys.includes(k)) problems.push(`Secret template: no key ${k}`);
for (const [k, v] of Object.entries(secret.stringData || {})) {
  if (v !== '' && v !== 'REPLACE_ME') problems.push(`Secret template: ${k} carries a value; a template holds placeholders only`);
}

const es = YAML.parse(fs.readFileSync(esFile, 'utf8'));
const w = 'ExternalSecret';
if (es.apiVersion !== 'external-secrets.io/v1beta1') problems.push(`${w}: apiVersion ${es.apiVersion}, expected external-secrets.io/v1beta1`);
if (es.kind !== 'ExternalSecret') problems.push(`${w}: kind ${es.kind}`);
const allowedSpec = new Set(['refreshInterval', 'secretStoreRef', 'target', 'data', 'dataFrom']);
for (const k of Object.keys(es.spec || {})) if (!allowedSpec.has(k)) problems.push(`${w}: unknown spec field ${k}`);
if (!/^\d+(s|m|h)$/.test(es.spec?.refreshInterval || '')) problems.push(`${w}: refreshInterval "${es.spec?.refreshInterval}" is not a duration like 1h`);
const ref = es.spec?.secretStoreRef || {};
if (!ref.name) problems.push(`${w}: secretStoreRef.name missing`);
if (!['SecretStore', 'ClusterSecretStore'].includes(ref.kind)) problems.push(`${w}: secretStoreRef.kind ${ref.kind} is not SecretStore|ClusterSecretStore`);
if (es.spec?.target?.name !== 'forge-secrets') problems.push(`${w}: target.name is not forge-secrets (the Secret the pods read)`);
if (es.spec?.target?.creationPolicy && !['Owner', 'Orphan', 'Merge', 'None'].includes(es.spec.target.creationPolicy)) problems.push(`${w}: bad creationPolicy`);
const esKeys = [];
for (const [i, d] of (es.spec?.data || []).entries()) {
  for (const k of Object.keys(d)) if (!['secretKey', 'remoteRef', 'sourceRef'].includes(k)) problems.push(`${w}: data[${i}] unknown field ${k}`);
  if (!d.secretKey) problems.push(`${w}: data[${i}].secretKey missing`);
  if (!d.remoteRef?.key) problems.push(`${w}: data[${i}].remoteRef.key missing`);
  for (const k of Object.keys(d.remoteRef || {})) {
    if (!['key', 'property', 'version', 'metadataPolicy', 'decodingStrategy', 'conversionStrategy'].includes(k)) problems.push(`${w}: data[${i}].remoteRef unknown field ${k}`);
  }
  esKeys.push(d.secretKey);
}
for (const k of tplKeys) if (!esKeys.includes(k)) problems.push(`${w}: does not provide ${k} (in the Secret template)`);

if (problems.length) {
  for (const p of problems) console.log(`  - ${p}`);
  process.exit(1);
}
console.log(`examples ok: Secret template keys ${tplKeys.join(', ')}; ExternalSecret provides all`);
