#!/usr/bin/env node
// Evaluates every PromQL expression of the dashboards and rule files against a running Prometheus
// (its /api/v1/query) and requires data:
//   - dashboard queries (Grafana variables substituted: $namespace → .*, $__rate_interval → 1m …)
//     must return a non-empty vector;
//   - recording rules: the expression and the recorded series must return data;
//   - alerting rules are conditions (normally empty): the expression must evaluate without error,
//     and every series it reads (metric names and recorded names) must have data with
//     service="forge-api" — a misspelt metric or a label the app does not expose fails here.
// usage: node eval-promql.js PROM_URL [--dashboard F]... [--rules F]...
'use strict';
const fs = require('fs');
const YAML = require('yaml');

const args = process.argv.slice(2);
const prom = args[0];
const dashboards = [];
const ruleFiles = [];
for (let i = 1; i < args.length; i += 2) {
  if (args[i] === '--dashboard') dashboards.push(args[i + 1]);
  else if (args[i] === '--rules') ruleFiles.push(args[i + 1]);
  else {
    console.error(`unknown argument ${args[i]}`);
    process.exit(2);
  }
}

const GRAFANA_VARS = {
  $__rate_interval: '1m', $__interval: '15s', $__range: '5m', $namespace: '.*', '${namespace}': '.*',
};
function substitute(expr) {
  let e = expr;
  for (const [k, v] of Object.entries(GRAFANA_VARS).sort((a, b) => b[0].length - a[0].length)) e = e.split(k).join(v);
  const left = /\$\{?[A-Za-z_][A-Za-z0-9_]*/.exec(e);
  if (left) throw new Error(`unknown Grafana variable ${left[0]}`);
  return e;
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless',
  'bool', 'offset', 'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile',
  'count_values', 'group', 'inf', 'nan', 'le']);
// metric names an expression reads: identifiers before `{`, and recording-rule names (with ':')
function metricNames(expr) {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = new Set();
  for (const m of noStrings.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*\{/g)) names.add(m[1]);
  for (const m of noStrings.matchAll(/(?<![A-Za-z0-9_:])([A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_:]+)(?![A-Za-z0-9_:(])/g)) names.add(m[1]);
  for (const w of PROMQL_WORDS) names.delete(w);
  return [...names];
}

async function query(q) {
  const url = `${prom}/api/v1/query?query=${encodeURIComponent(q)}`;
  const r = await fetch(url);
  const body = await r.json().catch(() => ({}));
  if (body.status !== 'success') throw new Error(`${body.errorType || r.status}: ${body.error || 'bad response'}`);
  return body.data;
}

const results = [];
function report(ok, what, detail) {
  results.push(ok);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` — ${detail}` : ''}`);
}

async function needData(what, expr) {
  try {
    const d = await query(expr);
    const n = d.resultType === 'scalar' ? 1 : d.result.length;
    report(n > 0, what, n > 0 ? `${n} series` : `no data: ${expr}`);
  } catch (e) {
    report(false, what, `${e.message}: ${expr}`);
  }
}

async function main() {
  for (const f of dashboards) {
    const dash = JSON.parse(fs.readFileSync(f, 'utf8'));
    const panels = [];
    const walk = (ps) => { for (const p of ps || []) { panels.push(p); walk(p.panels); } };
    walk(dash.panels);
    for (const p of panels) {
      for (const t of p.targets || []) {
        if (!t.expr) continue;
        let e;
        try {
          e = substitute(t.expr);
        } catch (err) {
          report(false, `dashboard "${p.title}" ${t.refId}`, err.message);
          continue;
        }
        await needData(`dashboard "${p.title}" ${t.refId}`, e);
      }
    }
    // template variable queries too
    for (const v of (dash.templating && dash.templating.list) || []) {
      const q = typeof v.query === 'object' ? v.query.query : v.query;
      const m = /^label_values\((.+),\s*([A-Za-z_]+)\)$/.exec(q || '');
      if (v.type === 'query' && m) await needData(`dashboard variable $${v.name}`, m[1]);
    }
  }
  for (const f of ruleFiles) {
    const doc = YAML.parse(fs.readFileSync(f, 'utf8'));
    const groups = doc.groups || (doc.spec && doc.spec.groups) || [];
    for (const g of groups) {
      for (const r of g.rules || []) {
        if (r.record) {
          await needData(`record ${r.record} (expression)`, r.expr);
          await needData(`record ${r.record} (recorded series)`, r.record);
        } else {
          const what = `alert ${r.alert}${r.labels && r.labels.long_window ? ` [${r.labels.long_window}/${r.labels.short_window}]` : ''}`;
          try {
            const d = await query(r.expr);
            report(['vector', 'matrix', 'scalar'].includes(d.resultType), `${what} evaluates`, `${d.resultType}, ${d.result.length} series firing-candidates`);
          } catch (e) {
            report(false, `${what} evaluates`, e.message);
          }
          for (const name of metricNames(r.expr)) {
            const sel = name.includes(':') ? name : `${name}{service="forge-api"}`;
            await needData(`${what} reads ${name}`, sel);
          }
        }
      }
    }
  }
  const bad = results.filter((x) => !x).length;
  console.log(`${results.length - bad} expressions with data, ${bad} without`);
  process.exit(bad ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
