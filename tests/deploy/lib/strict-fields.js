// Unknown-field check for Kubernetes objects. kubernetes-models' validators (like the API server
// without --validate=strict) accept misspelt field names; their TypeScript declarations list every
// field. This walks an object alongside the declared type of its model, using the TypeScript
// compiler API, and reports every key the type does not declare (maps such as labels, annotations
// and ConfigMap data are index signatures and accept any key).
'use strict';
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const NM = path.resolve(__dirname, '../node_modules');

function dtsFor(apiVersion, kind) {
  const candidates = apiVersion === 'monitoring.coreos.com/v1'
    ? [path.join(NM, '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1', `${kind}.d.ts`)]
    : [path.join(NM, 'kubernetes-models', apiVersion, `${kind}.d.ts`)];
  return candidates.find((f) => fs.existsSync(f)) || null;
}

function createChecker(objs) {
  const roots = new Map();
  for (const o of objs) {
    const f = o && dtsFor(o.apiVersion, o.kind);
    if (f) roots.set(`${o.apiVersion}/${o.kind}`, f);
  }
  const program = ts.createProgram([...new Set(roots.values())], {
    noEmit: true, skipLibCheck: true, types: [], moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2020,
  });
  const checker = program.getTypeChecker();

  function rootType(apiVersion, kind) {
    const f = roots.get(`${apiVersion}/${kind}`);
    const sf = f && program.getSourceFile(f);
    if (!sf) return null;
    let found = null;
    ts.forEachChild(sf, (n) => {
      if (ts.isInterfaceDeclaration(n) && n.name.text === `I${kind}`) found = n;
    });
    return found ? checker.getTypeAtLocation(found.name) : null;
  }

  function objectParts(t) {
    const types = t.isUnion() ? t.types : [t];
    return types.filter((x) => x.flags & ts.TypeFlags.Object);
  }

  function walk(value, type, where, problems) {
    if (value === null || typeof value !== 'object' || !type) return;
    const parts = objectParts(checker.getNonNullableType(type));
    if (parts.length === 0) return; // primitive / any: nothing to check
    if (Array.isArray(value)) {
      const arr = parts.find((p) => checker.isArrayType(p));
      if (!arr) return;
      const elem = checker.getTypeArguments(arr)[0];
      value.forEach((v, i) => walk(v, elem, `${where}[${i}]`, problems));
      return;
    }
    const props = new Map();
    let index = null;
    for (const p of parts) {
      for (const s of checker.getPropertiesOfType(p)) props.set(s.name, s);
      const idx = checker.getIndexInfosOfType(p).find((i) => i.keyType.flags & ts.TypeFlags.String);
      if (idx) index = idx.type;
    }
    if (props.size === 0 && !index) return; // an open object type
    for (const [k, v] of Object.entries(value)) {
      const s = props.get(k);
      if (s) walk(v, checker.getTypeOfSymbol(s), `${where}.${k}`, problems);
      else if (index) walk(v, index, `${where}.${k}`, problems);
      else problems.push(`${where}.${k}: unknown field (the API type does not declare it; misspelt?)`);
    }
  }

  return {
    check(obj) {
      const problems = [];
      const t = rootType(obj.apiVersion, obj.kind);
      if (!t) return [`no type declaration for ${obj.apiVersion} ${obj.kind}`];
      walk(obj, t, '', problems);
      return problems.map((p) => p.replace(/^\./, ''));
    },
  };
}

module.exports = { createChecker };
