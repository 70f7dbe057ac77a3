#!/usr/bin/env node
// Prints deploy/monitoring/prometheusrule.yaml: the Prometheus Operator's PrometheusRule wrapping
// the groups of deploy/monitoring/alerts.yaml (the one source of the rules).
//   node tests/deploy/lib/gen-prometheusrule.js > deploy/monitoring/prometheusrule.yaml
// test_k8s.sh fails when the committed file and alerts.yaml disagree.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const src = process.argv[2] || path.join(__dirname, '../../../deploy/monitoring/alerts.yaml');
const rules = YAML.parse(fs.readFileSync(src, 'utf8'));
const doc = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: {
    name: 'forge-api',
    labels: {
      'app.kubernetes.io/name': 'forge',
      'app.kubernetes.io/component': 'api',
      // must match your Prometheus' ruleSelector (kube-prometheus-stack: release: <release name>)
      release: 'kube-prometheus-stack',
    },
  },
  spec: { groups: rules.groups },
};
process.stdout.write(
  '# GENERATED from deploy/monitoring/alerts.yaml by tests/deploy/lib/gen-prometheusrule.js: edit\n' +
  '# alerts.yaml, then regenerate. test_k8s.sh fails when the two disagree.\n' +
  YAML.stringify(doc, { lineWidth: 96, minContentWidth: 40 }));
