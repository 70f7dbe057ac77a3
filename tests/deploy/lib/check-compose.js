#!/usr/bin/env node
// Checks the output of `docker-compose config` (the resolved file) for the shape we rely on:
// the six services, a healthcheck on each, the api starting only after healthy postgres, redis
// and kafka, named volumes for state, pinned images, ports on loopback only, secrets from the
// environment (not literals), and bind-mounted files that exist.
//   usage: node check-compose.js RESOLVED.yml DEPLOY_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const [file, deployDir] = process.argv.slice(2);
const c = YAML.parse(fs.readFileSync(file, 'utf8'));
const s = c.services || {};
const problems = [];
const need = (cond, msg) => { if (!cond) problems.push(msg); };

for (const name of ['api', 'postgres', 'redis', 'kafka', 'prometheus', 'grafana']) {
  need(s[name], `service ${name}`);
  if (!s[name]) continue;
  need(s[name].healthcheck && s[name].healthcheck.test, `${name} has a healthcheck`);
  if (s[name].image) need(!/:latest$/.test(s[name].image) && /:/.test(s[name].image), `${name} image ${s[name].image} is pinned to a version`);
  for (const p of s[name].ports || []) {
    const hostIp = typeof p === 'object' ? p.host_ip : String(p).split(':')[0];
    need(hostIp === '127.0.0.1', `${name} publishes port ${JSON.stringify(p)} on loopback only`);
  }
}
need(/^postgres:15/.test(s.postgres?.image || ''), 'postgres is version 15');
need(/^redis:7/.test(s.redis?.image || ''), 'redis is version 7');
need(/KRaft|broker,controller/.test(JSON.stringify(s.kafka?.environment || {})), 'kafka runs in KRaft mode (broker,controller)');
const deps = s.api?.depends_on || {};
for (const d of ['postgres', 'redis', 'kafka']) need(deps[d]?.condition === 'service_healthy', `api depends_on ${d} with condition service_healthy`);
need(s.api?.build?.dockerfile && fs.existsSync(path.resolve(s.api.build.context || deployDir, s.api.build.dockerfile)), 'api builds deploy/docker/Dockerfile');
const named = Object.keys(c.volumes || {});
for (const [svc, dir] of [['api', '/var/lib/forge'], ['postgres', '/var/lib/postgresql/data'], ['prometheus', '/prometheus'], ['grafana', '/var/lib/grafana']]) {
  const v = (s[svc]?.volumes || []).find((x) => (typeof x === 'object' ? x.target : String(x).split(':')[1]) === dir);
  const src = v && (typeof v === 'object' ? v.source : String(v).split(':')[0]);
  need(v && named.includes(src), `${svc} keeps ${dir} in a named volume`);
}
for (const [svc, def] of Object.entries(s)) {
  for (const v of def.volumes || []) {
    if (typeof v === 'object' && v.type === 'bind') need(fs.existsSync(v.source), `${svc} bind-mounts ${v.source}, which exists`);
  }
}
// the api must not run with a literal secret from the file: values come from the env file
const env = s.api?.environment || {};
need(env.JWT_SECRET && env.JWT_SECRET === process.env.EXPECT_JWT_SECRET, 'api JWT_SECRET comes from the env file');
need(s.api?.read_only === true, 'api root filesystem is read-only');
need((s.api?.cap_drop || []).includes('ALL'), 'api drops all capabilities');
if (problems.length) {
  for (const p of problems) console.log(`  - expected: ${p}`);
  process.exit(1);
}
console.log(`${Object.keys(s).length} services, ${named.length} named volumes: ok`);
