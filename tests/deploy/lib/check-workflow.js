#!/usr/bin/env node
// The shape the CI/CD workflow must keep (issue 7 / SPEC §11), beyond what actionlint checks:
// lint, gcc+clang builds, tests with PostgreSQL and Redis services, sanitizers, coverage artifact,
// CodeQL for C, an image scanner, push to ghcr.io tagged by sha and branch, staging on develop and
// production on main through `kubectl apply -k` of overlays that exist, behind environments.
//   usage: node check-workflow.js WORKFLOW.yml REPO_ROOT
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const [file, root] = process.argv.slice(2);
const wf = YAML.parse(fs.readFileSync(file, 'utf8'));
const jobs = wf.jobs || {};
const problems = [];
const steps = (j) => (jobs[j] && jobs[j].steps) || [];
const runs = (j) => steps(j).map((s) => s.run || '').join('\n');
const uses = (j) => steps(j).map((s) => s.uses || '').filter(Boolean);
const allUses = Object.keys(jobs).flatMap(uses);
const need = (cond, msg) => { if (!cond) problems.push(msg); };

const on = wf.on || {};
need(on.push && (on.push.branches || []).includes('main') && on.push.branches.includes('develop'), 'push trigger on main and develop');
need(on.pull_request, 'pull_request trigger');
need(/make fmt-check|clang-format/.test(runs('lint')), 'lint job runs clang-format (make fmt-check)');
need(/make lint|cppcheck|clang-tidy/.test(runs('lint')), 'lint job runs cppcheck/clang-tidy (make lint)');
const cc = jobs.test?.strategy?.matrix?.cc || [];
need(cc.includes('gcc') && cc.includes('clang'), 'test job matrix builds with gcc and clang');
need(/postgres:15/.test(jobs.test?.services?.postgres?.image || ''), 'test job has a postgres:15 service');
need(/redis:7/.test(jobs.test?.services?.redis?.image || ''), 'test job has a redis:7 service');
need(/make test-asan/.test(runs('sanitizers')), 'sanitizer job runs make test-asan');
need(/gcovr|lcov/.test(runs('coverage')) && uses('coverage').some((u) => u.startsWith('actions/upload-artifact')), 'coverage job reports (gcovr/lcov) and uploads an artifact');
need(uses('codeql').some((u) => u.startsWith('github/codeql-action/init')) &&
  steps('codeql').some((s) => /c-cpp|cpp/.test(String(s.with?.languages || ''))), 'CodeQL for c-cpp');
need(allUses.some((u) => u.startsWith('aquasecurity/trivy-action')), 'an image scanner (trivy)');
const push = steps('image').find((s) => (s.uses || '').startsWith('docker/build-push-action') && s.with?.push === true);
need(push && push.with.file === 'deploy/docker/Dockerfile', 'image job pushes deploy/docker/Dockerfile with docker/build-push-action');
need(fs.existsSync(path.join(root, 'deploy/docker/Dockerfile')), 'deploy/docker/Dockerfile exists');
const meta = steps('image').find((s) => (s.uses || '').startsWith('docker/metadata-action'));
const tags = String(meta?.with?.tags || '');
need(/type=sha/.test(tags) && /type=ref,event=branch/.test(tags), 'image tagged by sha and by branch');
need(/ghcr\.io/.test(JSON.stringify(jobs.image || {})), 'image goes to ghcr.io');
need(jobs.image?.permissions?.packages === 'write', 'image job has packages: write');
for (const [job, branch, overlay, env] of [['deploy-staging', 'develop', 'staging', 'staging'], ['deploy-production', 'main', 'production', 'production']]) {
  const j = jobs[job];
  need(j, `${job} job exists`);
  if (!j) continue;
  need(String(j.if || '').includes(`refs/heads/${branch}`), `${job} runs only on ${branch}`);
  const envName = typeof j.environment === 'string' ? j.environment : j.environment?.name;
  need(envName === env, `${job} uses the ${env} environment (protection rules)`);
  need(new RegExp(`kubectl apply -k deploy/k8s/overlays/${overlay}\\b`).test(runs(job)), `${job} runs kubectl apply -k deploy/k8s/overlays/${overlay}`);
  need(fs.existsSync(path.join(root, `deploy/k8s/overlays/${overlay}/kustomization.yaml`)), `overlay ${overlay} exists`);
  need([].concat(j.needs || []).includes('image'), `${job} needs the image job`);
}
if (problems.length) {
  for (const p of problems) console.log(`  - missing: ${p}`);
  process.exit(1);
}
console.log(`${file}: ${Object.keys(jobs).length} jobs in the expected shape`);
