// bench/mcp (README.md): the same run through the official MCP SDK client against
//   - `forge mcp` (stdio) in front of a fresh `forge serve` (SQLite, local embedder), and
//   - @modelcontextprotocol/server-memory (stdio; create_entities / search_nodes; JSON file).
// Per repetition: N remember/create_entities calls, then N search calls (forge: hybrid, then
// semantic) cycling over the 20 paraphrased queries of corpus.mjs. Reports calls/s and p99 per
// call (median and min–max over REPS), and hit@5 / MRR@5 of the 20 queries.
//
//   cd bench/mcp && npm ci && FORGE_BIN=../../build/forge node bench.mjs    (REPS=3 N=1000)
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

import { TARGETS, fillers } from "./corpus.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const FORGE_BIN = path.resolve(process.env.FORGE_BIN || path.join(here, "../../build/forge"));
const REPS = Number(process.env.REPS || 3);
const N = Number(process.env.N || 1000);
const require = createRequire(import.meta.url);
const MEMORY_JS = path.join(path.dirname(require.resolve(
  "@modelcontextprotocol/server-memory/package.json")), "dist/index.js");
const EMBEDDER = process.env.EMBEDDER || "local-hash-v1"; // forge's EMBEDDING_LOCAL_MODEL
const ADMIN = { email: "admin@forge.test", password: "Adm1nPassw0rd!" };

function corpus() {
  const fill = fillers(N - TARGETS.length);
  const items = [];
  const step = Math.floor(N / TARGETS.length);
  let t = 0;
  for (let i = 0; i < N; i++) {
    if (i % step === step - 1 && t < TARGETS.length) items.push({ text: TARGETS[t][0], target: t++ });
    else items.push({ text: fill.pop() ?? `spare filler ${i}`, target: -1 });
  }
  return items;
}

const freePort = () => new Promise((res) => {
  const s = net.createServer();
  s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
});

async function startForge(dir) {
  const port = await freePort();
  const env = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(FORGE_|DATABASE_|JWT_|REDIS_|KAFKA_|EMBEDDING_)/.test(k)) env[k] = v;
  Object.assign(env, { HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warning",
    DATABASE_URL: "sqlite:///" + path.join(dir, "forge.db"), FORGE_ENV_FILE: "/dev/null",
    JWT_SECRET: "bench-secret-0123456789-0123456789-abcdef", RATE_LIMIT_ENABLED: "false",
    FORGE_ADMIN_EMAIL: ADMIN.email, FORGE_ADMIN_PASSWORD: ADMIN.password,
    EMBEDDING_LOCAL_MODEL: EMBEDDER });
  const log = fs.openSync(path.join(dir, "server.log"), "a");
  const proc = spawn(FORGE_BIN, ["serve"], { env, cwd: dir, stdio: ["ignore", log, log] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(url + "/health/ready")).status === 200) break; } catch { /* wait */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  const r = await fetch(url + "/api/v1/auth/login", { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(ADMIN) });
  const token = (await r.json()).data.access_token;
  return { proc, url, token };
}

async function connect(command, args, env) {
  const client = new Client({ name: "forge-mcp-bench", version: "1.0.0" });
  await client.connect(new StdioClientTransport({ command, args, env, stderr: "ignore" }));
  return client;
}

function stats(lat, totalMs) {
  const s = [...lat].sort((a, b) => a - b);
  return { calls_per_s: lat.length / (totalMs / 1000), p99_ms: s[Math.floor(s.length * 0.99)],
    p50_ms: s[Math.floor(s.length * 0.5)] };
}

async function timed(n, fn) {
  const lat = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    await fn(i);
    lat.push(performance.now() - a);
  }
  return stats(lat, performance.now() - t0);
}

function quality(ranked) { // ranked[q] = target indexes of the top 5 (or fewer)
  let hits = 0, rr = 0;
  ranked.forEach((top, q) => {
    const pos = top.indexOf(q);
    if (pos >= 0) { hits++; rr += 1 / (pos + 1); }
  });
  return { hit_at_5: hits, of: ranked.length, mrr_at_5: +(rr / ranked.length).toFixed(3) };
}

const targetOf = (text) => TARGETS.findIndex((t) => t[0] === text);

async function runForge(items, rep) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "forge-mcp-bench-"));
  const srv = await startForge(dir);
  const client = await connect(FORGE_BIN, ["mcp"], { FORGE_URL: srv.url, FORGE_TOKEN: srv.token,
    XDG_CONFIG_HOME: dir, HOME: dir, PATH: process.env.PATH });
  try {
    const out = {};
    out.remember = await timed(items.length, async (i) => {
      const r = await client.callTool({ name: "remember", arguments: { content: items[i].text } });
      if (r.isError) throw new Error(r.content[0].text);
    });
    for (const mode of ["hybrid", "semantic"]) {
      const ranked = [];
      out["search_" + mode] = await timed(items.length, async (i) => {
        const q = i % TARGETS.length;
        const r = await client.callTool({ name: "search",
          arguments: { query: TARGETS[q][1], mode, limit: 5 } });
        if (r.isError) throw new Error(r.content[0].text);
        if (i < TARGETS.length) ranked[q] = r.structuredContent.results.map((x) => targetOf(x.content));
      });
      out["quality_" + mode] = quality(ranked);
      if (rep === 0) out["top1_" + mode] = ranked.map((t) => t[0]);
    }
    return out;
  } finally {
    await client.close();
    srv.proc.kill("SIGTERM");
    await new Promise((r) => srv.proc.once("exit", r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function runReference(items) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "server-memory-bench-"));
  const client = await connect(process.execPath, [MEMORY_JS],
    { MEMORY_FILE_PATH: path.join(dir, "memory.jsonl"), PATH: process.env.PATH });
  try {
    const out = {};
    out.remember = await timed(items.length, async (i) => {
      const r = await client.callTool({ name: "create_entities", arguments: { entities: [
        { name: `memory-${i}`, entityType: "memory", observations: [items[i].text] }] } });
      if (r.isError) throw new Error(JSON.stringify(r.content));
    });
    const ranked = [];
    out.search = await timed(items.length, async (i) => {
      const q = i % TARGETS.length;
      const r = await client.callTool({ name: "search_nodes", arguments: { query: TARGETS[q][1] } });
      if (i < TARGETS.length)
        ranked[q] = (r.structuredContent?.entities ?? []).slice(0, 5)
          .map((e) => targetOf(e.observations[0]));
    });
    out.quality = quality(ranked);
    return out;
  } finally {
    await client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
function summary(runs, key) {
  const cps = runs.map((r) => r[key].calls_per_s), p99 = runs.map((r) => r[key].p99_ms);
  const f = (x) => +x.toFixed(x < 10 ? 2 : 1);
  return { calls_per_s: f(median(cps)), calls_per_s_range: [f(Math.min(...cps)), f(Math.max(...cps))],
    p99_ms: f(median(p99)), p99_ms_range: [f(Math.min(...p99)), f(Math.max(...p99))] };
}

const items = corpus();
const forge = [], ref = [];
for (let rep = 0; rep < REPS; rep++) {
  forge.push(await runForge(items, rep));
  ref.push(await runReference(items));
  process.stderr.write(`rep ${rep + 1}/${REPS} done\n`);
}
const result = {
  n: N, reps: REPS, embedder: EMBEDDER, node: process.version, cpus: os.cpus().length,
  forge: { remember: summary(forge, "remember"), search_hybrid: summary(forge, "search_hybrid"),
    search_semantic: summary(forge, "search_semantic"), quality_hybrid: forge[0].quality_hybrid,
    quality_semantic: forge[0].quality_semantic },
  reference: { create_entities: summary(ref, "remember"), search_nodes: summary(ref, "search"),
    quality: ref[0].quality },
};
result.speedup_search = {
  hybrid: +(result.forge.search_hybrid.calls_per_s / result.reference.search_nodes.calls_per_s).toFixed(1),
  semantic: +(result.forge.search_semantic.calls_per_s / result.reference.search_nodes.calls_per_s).toFixed(1),
};
// the same ratio within each repetition (forge and the reference ran back to back, under the
// same machine load), then its median and range
const perRep = (mode) => forge.map((f, i) =>
  +(f["search_" + mode].calls_per_s / ref[i].search.calls_per_s).toFixed(1));
result.speedup_search_per_rep = { hybrid: perRep("hybrid"), semantic: perRep("semantic") };
result.load_avg = os.loadavg().map((x) => +x.toFixed(1));
console.log(JSON.stringify(result, null, 2));
