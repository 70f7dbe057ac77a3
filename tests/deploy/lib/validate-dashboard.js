#!/usr/bin/env node
// Validates Grafana dashboards: JSON Schema of @grafana/schema's Dashboard type (ajv), then the
// things the schema cannot say: current panel types only, unique panel ids (rows included), every
// panel has at least one query with an expression and a refId, panels use the ${datasource}
// variable, grid positions stay inside 24 columns and do not overlap.
//   usage: node validate-dashboard.js SCHEMA DASHBOARD.json...
'use strict';
const fs = require('fs');
const Ajv = require('ajv');

const ALLOWED = new Set(['timeseries', 'stat', 'gauge', 'bargauge', 'table', 'text', 'row', 'heatmap', 'logs']);
const DEPRECATED = new Set(['graph', 'singlestat', 'table-old', 'grafana-piechart-panel', 'grafana-worldmap-panel']);

function flatPanels(panels) {
  const out = [];
  for (const p of panels || []) {
    out.push(p);
    if (p.type === 'row' && Array.isArray(p.panels)) out.push(...flatPanels(p.panels));
  }
  return out;
}

function checkDashboard(file, validate) {
  const errors = [];
  let dash;
  try {
    dash = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return [`not valid JSON: ${e.message}`];
  }
  if (!validate(dash)) {
    for (const e of validate.errors) errors.push(`schema: ${e.instancePath || '/'} ${e.message}${e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
  }
  if (!dash.title) errors.push('dashboard has no title');
  if (!dash.uid) errors.push('dashboard has no uid (provisioning and links need a stable one)');
  const panels = flatPanels(dash.panels);
  if (panels.length === 0) errors.push('dashboard has no panels');
  const ids = new Map();
  const cells = new Map();
  for (const p of panels) {
    const where = `panel ${p.id} "${p.title || ''}"`;
    if (typeof p.id !== 'number') errors.push(`${where}: no numeric id`);
    else if (ids.has(p.id)) errors.push(`${where}: id ${p.id} also used by "${ids.get(p.id)}"`);
    else ids.set(p.id, p.title);
    if (DEPRECATED.has(p.type)) errors.push(`${where}: deprecated panel type "${p.type}"`);
    else if (!ALLOWED.has(p.type)) errors.push(`${where}: panel type "${p.type}" is not one of ${[...ALLOWED].join(', ')}`);
    if (!p.title) errors.push(`${where}: no title`);
    const g = p.gridPos;
    if (!g) errors.push(`${where}: no gridPos`);
    else {
      if (g.x < 0 || g.w < 1 || g.x + g.w > 24) errors.push(`${where}: gridPos outside 24 columns`);
      for (let y = g.y; y < g.y + g.h; y++) {
        for (let x = g.x; x < g.x + g.w; x++) {
          const k = `${x},${y}`;
          if (cells.has(k)) {
            errors.push(`${where}: overlaps panel ${cells.get(k)} at x=${x} y=${y}`);
            y = g.y + g.h;
            break;
          }
          cells.set(k, p.id);
        }
      }
    }
    if (p.type === 'row' || p.type === 'text') continue;
    if (!p.datasource || p.datasource.uid !== '${datasource}') errors.push(`${where}: datasource is not the \${datasource} variable`);
    const targets = p.targets || [];
    if (targets.length === 0) errors.push(`${where}: no queries`);
    const refIds = new Set();
    for (const t of targets) {
      if (typeof t.expr !== 'string' || t.expr.trim() === '') errors.push(`${where}: query ${t.refId} has no expr`);
      if (!t.refId) errors.push(`${where}: a query has no refId`);
      else if (refIds.has(t.refId)) errors.push(`${where}: refId ${t.refId} repeated`);
      refIds.add(t.refId);
    }
  }
  return errors;
}

function main() {
  const [schemaFile, ...files] = process.argv.slice(2);
  if (!schemaFile || files.length === 0) {
    console.error('usage: validate-dashboard.js SCHEMA DASHBOARD.json...');
    process.exit(2);
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, 'utf8')));
  let bad = 0;
  for (const f of files) {
    const errors = checkDashboard(f, validate);
    if (errors.length) {
      bad++;
      console.log(`${f}: ${errors.length} problem(s)`);
      for (const e of errors.slice(0, 40)) console.log(`  - ${e}`);
    } else {
      console.log(`${f}: ok (${flatPanels(JSON.parse(fs.readFileSync(f, 'utf8')).panels).length} panels)`);
    }
  }
  process.exit(bad ? 1 : 0);
}

main();
