// Forge's MCP server (docs/mcp.md, issue 22) driven by the protocol's official TypeScript SDK
// (@modelcontextprotocol/sdk, pinned in package-lock.json): a client nobody here wrote.
//
// Starts a real `forge serve` (temp dir, free port, bootstrap admin), then talks to
//   - `forge mcp` over stdio (StdioClientTransport; FORGE_URL + FORGE_TOKEN), and
//   - POST /mcp over Streamable HTTP (StreamableHTTPClientTransport; Bearer token),
// plus raw JSON-RPC lines / HTTP requests for what the SDK never sends (malformed JSON, batches,
// oversized messages, foreign Origins, missing tokens).
//
//   cd tests/mcp && npm ci && FORGE_BIN=$PWD/../../build/forge node --test mcp.test.mjs
// FORGE_TEST_STORE=postgresql runs the same suite on a throwaway PostgreSQL (tests/api/pg_launch.py).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const FORGE_BIN = path.resolve(process.env.FORGE_BIN || path.join(repo, "build/forge"));
const STORE = process.env.FORGE_TEST_STORE || "sqlite";
const ADMIN = { email: "admin@forge.test", password: "Adm1nPassw0rd!" };
const TOOLS = ["search", "get_capsule", "remember", "update_capsule", "lineage", "related",
  "recent", "list_proposals", "vote"];

const cleanups = [];
const stdioClients = [], stdioLogs = []; // checked for sanitizer reports by the last test
const SANITIZER = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

// PostgreSQL: tests/api/pg_launch.py prints a URL and keeps the cluster until its stdin closes.
async function pgUrl() {
  const p = spawn("python3", [path.join(repo, "tests/api/pg_launch.py")],
    { stdio: ["pipe", "pipe", "inherit"] });
  cleanups.push(() => new Promise((r) => { p.on("exit", r); p.stdin.end(); }));
  const rl = readline.createInterface({ input: p.stdout });
  const line = await new Promise((resolve, reject) => {
    rl.once("line", resolve);
    p.once("exit", (c) => reject(new Error("pg_launch exited " + c)));
  });
  return line.trim();
}

async function startForge(extraEnv = {}, { store = STORE } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "forge-mcp-"));
  const port = await freePort();
  const env = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(FORGE_|DATABASE_|JWT_|REDIS_|KAFKA_|EMBEDDING_)/.test(k)) env[k] = v;
  Object.assign(env, {
    HOST: "127.0.0.1", PORT: String(port), LOG_FORMAT: "json", LOG_LEVEL: "warning",
    DATABASE_URL: store === "postgresql" ? await pgUrl() : "sqlite:///" + path.join(dir, "forge.db"),
    JWT_SECRET: "test-secret-0123456789-0123456789-abcdef", FORGE_ENV_FILE: "/dev/null",
    FORGE_ADMIN_EMAIL: ADMIN.email, FORGE_ADMIN_PASSWORD: ADMIN.password,
    RATE_LIMIT_REQUESTS_PER_MINUTE: "100000", ACCESS_TOKEN_TTL_S: "3600",
    ...extraEnv,
  });
  const log = fs.openSync(path.join(dir, "server.log"), "a");
  const proc = spawn(FORGE_BIN, ["serve"], { env, cwd: dir, stdio: ["ignore", log, log] });
  const url = `http://127.0.0.1:${port}`;
  const srv = { proc, url, dir, log: () => fs.readFileSync(path.join(dir, "server.log"), "utf8") };
  cleanups.push(async () => {
    if (proc.exitCode === null) {
      const done = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await done;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 30000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error("forge exited:\n" + srv.log());
    try {
      const r = await fetch(url + "/health/ready");
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error("forge did not become ready:\n" + srv.log());
    await new Promise((r) => setTimeout(r, 100));
  }
  return srv;
}

let F; // the server of the suite
let adminToken, user; // user: { email, token }

async function api(method, p, body, token, headers = {}) {
  const h = { ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (token) h.Authorization = "Bearer " + token;
  const r = await fetch(F.url + p, { method, headers: h,
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, json, text };
}

async function login(email, password) {
  const r = await api("POST", "/api/v1/auth/login", { email, password });
  assert.equal(r.status, 200, r.text);
  return r.json.data.access_token;
}

async function newUser() {
  const email = `mcp-${Math.random().toString(16).slice(2, 10)}@forge.test`;
  const r = await api("POST", "/api/v1/auth/register", { email, password: "Passw0rd!x" });
  assert.equal(r.status, 201, r.text);
  return { email, token: await login(email, "Passw0rd!x") };
}

async function stdioClient(token) {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), "forge-mcp-cfg-"));
  cleanups.push(() => fs.rmSync(cfg, { recursive: true, force: true }));
  const transport = new StdioClientTransport({
    command: FORGE_BIN, args: ["mcp"], stderr: "pipe",
    env: { FORGE_URL: F.url, FORGE_TOKEN: token, XDG_CONFIG_HOME: cfg, HOME: cfg },
  });
  const client = new Client({ name: "forge-mcp-test", version: "1.0.0" });
  const log = { text: "" };
  transport.stderr.on("data", (d) => { log.text += d; });
  stdioLogs.push(log);
  await client.connect(transport);
  stdioClients.push(client);
  cleanups.push(() => client.close());
  return client;
}

async function httpClient(token, init = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(F.url + "/mcp"), {
    requestInit: { headers: { Authorization: "Bearer " + token, ...(init.headers || {}) } },
  });
  const client = new Client({ name: "forge-mcp-http-test", version: "1.0.0" });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, transport };
}

function errorText(result) {
  assert.equal(result.isError, true, JSON.stringify(result));
  return result.content.map((c) => c.text).join("\n");
}

// Raw newline-delimited JSON-RPC with a spawned `forge mcp` (what the SDK never sends).
function rawStdio(token) {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), "forge-mcp-cfg-"));
  const p = spawn(FORGE_BIN, ["mcp"], {
    env: { PATH: process.env.PATH, FORGE_URL: F.url, FORGE_TOKEN: token, XDG_CONFIG_HOME: cfg,
      HOME: cfg }, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  p.stderr.on("data", (d) => { stderr += d; });
  const rl = readline.createInterface({ input: p.stdout });
  const queue = [], waiters = [];
  rl.on("line", (l) => {
    const m = JSON.parse(l); // every stdout line must be one JSON message
    if (waiters.length) waiters.shift()(m); else queue.push(m);
  });
  const next = () => new Promise((resolve, reject) => {
    if (queue.length) return resolve(queue.shift());
    const t = setTimeout(() => reject(new Error("no reply; stderr: " + stderr)), 20000);
    waiters.push((m) => { clearTimeout(t); resolve(m); });
  });
  cleanups.push(() => assert.doesNotMatch(stderr, SANITIZER));
  const send = (obj) => p.stdin.write((typeof obj === "string" ? obj : JSON.stringify(obj)) + "\n");
  const close = () => new Promise((r) => {
    if (p.exitCode !== null) return r();
    p.once("exit", r);
    p.stdin.end();
  });
  cleanups.push(async () => { await close(); fs.rmSync(cfg, { recursive: true, force: true }); });
  return { send, next, close, proc: p, stderr: () => stderr };
}

const init = (version = "2025-11-25", id = 1) => ({ jsonrpc: "2.0", id, method: "initialize",
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw", version: "1" } } });

before(async () => {
  F = await startForge();
  adminToken = await login(ADMIN.email, ADMIN.password);
  user = await newUser();
});

after(async () => {
  for (const c of cleanups.reverse()) {
    try { await c(); } catch { /* best effort */ }
  }
});

test("stdio: initialize, list every tool with input and output schemas", async () => {
  const c = await stdioClient(user.token);
  assert.equal(c.getServerVersion().name, "forge");
  const caps = c.getServerCapabilities();
  assert.ok(caps.tools && caps.resources && caps.prompts);
  const { tools } = await c.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort());
  for (const t of tools) {
    assert.equal(t.inputSchema.type, "object", t.name);
    assert.equal(t.outputSchema.type, "object", t.name);
    assert.ok(t.description.length > 80, t.name + ": description written for a model");
  }
  assert.ok(await c.ping());
});

test("stdio: call every tool through the API", async () => {
  const c = await stdioClient(adminToken);
  const call = (name, args) => c.callTool({ name, arguments: args });

  const a = await call("remember", { content: "Our Postgres backups run nightly at 02:00 UTC " +
    "with pgBackRest and are kept for 30 days.", type: "decision", metadata: { team: "ops" } });
  assert.equal(a.isError, false, JSON.stringify(a));
  const A = a.structuredContent;
  assert.match(A.id, /^[0-9a-f-]{36}$/);
  assert.equal(A.type, "decision");
  assert.equal(A.uri, "forge://capsules/" + A.id);
  assert.deepEqual(JSON.parse(a.content[0].text), A, "text content mirrors structuredContent");

  const b = await call("remember", { content: "Backups now run at 03:00 UTC after the batch " +
    "window moved.", derived_from: A.id, reason: "schedule changed" });
  assert.equal(b.isError, false, JSON.stringify(b));
  const B = b.structuredContent;
  assert.equal(B.parent_id, A.id);

  const g = await call("get_capsule", { id: B.id });
  assert.equal(g.structuredContent.content, B.content);

  const u = await call("update_capsule", { id: B.id, content: "Backups run at 03:30 UTC." });
  assert.equal(u.isError, false, JSON.stringify(u));
  assert.equal(u.structuredContent.content, "Backups run at 03:30 UTC.");
  assert.notEqual(u.structuredContent.version, B.version);

  const s = await call("search", { query: "when do the database backups run", limit: 5 });
  assert.equal(s.isError, false, JSON.stringify(s));
  assert.ok(s.structuredContent.count >= 1);
  const ids = s.structuredContent.results.map((r) => r.id);
  assert.ok(ids.includes(A.id) || ids.includes(B.id), JSON.stringify(ids));
  for (const r of s.structuredContent.results) assert.equal(typeof r.score, "number");
  for (const mode of ["semantic", "keyword"]) {
    const m = await call("search", { query: "pgBackRest", mode, type: "decision" });
    assert.equal(m.isError, false, JSON.stringify(m));
    assert.equal(m.structuredContent.mode, mode);
    for (const r of m.structuredContent.results) assert.equal(r.type, "decision");
  }

  const l = await call("lineage", { id: B.id });
  assert.equal(l.isError, false, JSON.stringify(l));
  assert.deepEqual(l.structuredContent.ancestors.map((x) => x.id), [A.id]);
  const la = await call("lineage", { id: A.id });
  assert.deepEqual(la.structuredContent.children.map((x) => x.id), [B.id]);

  const cc = await call("remember", { content: "Restore drills run every quarter." });
  const C = cc.structuredContent;
  const e = await api("POST", `/api/v1/capsules/${A.id}/edges`,
    { target_id: C.id, type: "supports" }, adminToken);
  assert.equal(e.status, 201, e.text);
  const rel = await call("related", { id: A.id });
  assert.equal(rel.isError, false, JSON.stringify(rel));
  assert.ok(rel.structuredContent.nodes.some((n) => n.id === C.id), JSON.stringify(rel));
  assert.ok(rel.structuredContent.edges.some((x) => x.type === "supports"));
  const relT = await call("related", { id: A.id, types: ["contradicts"] });
  assert.ok(!relT.structuredContent.nodes.some((n) => n.id === C.id));

  const rec = await call("recent", { limit: 2 });
  assert.equal(rec.isError, false, JSON.stringify(rec));
  assert.equal(rec.structuredContent.capsules.length, 2);
  assert.equal(rec.structuredContent.capsules[0].id, C.id, "newest first");

  // governance: a draft, then an active proposal the admin (core trust) votes on
  const p = await api("POST", "/api/v1/governance/proposals", { title: "Cite sources",
    description: "A description that explains what changes, why, and what members expect.",
    type: "policy", payload: { title: "Cite", content: "Every summary cites its source." },
    voting_duration_hours: 1 }, adminToken);
  assert.equal(p.status, 201, p.text);
  const pid = p.json.data.id;
  const draftVote = await call("vote", { proposal_id: pid, vote: "for" });
  assert.match(errorText(draftVote), /HTTP 409/, "voting on a draft is refused readably");
  const act = await api("POST", `/api/v1/governance/proposals/${pid}/activate`, {}, adminToken);
  assert.equal(act.status, 200, act.text);
  const lp = await call("list_proposals", { status: "active" });
  assert.equal(lp.isError, false, JSON.stringify(lp));
  assert.ok(lp.structuredContent.proposals.some((x) => x.id === pid));
  const v = await call("vote", { proposal_id: pid, vote: "for", reasoning: "sources matter" });
  assert.equal(v.isError, false, JSON.stringify(v));
  assert.equal(v.structuredContent.vote.vote, "for");
});

test("stdio: refusals and invalid arguments are tool errors the model can read", async () => {
  const c = await stdioClient(user.token);
  const call = (name, args) => c.callTool({ name, arguments: args });
  let t = errorText(await call("remember", {}));
  assert.match(t, /validation_error/);
  assert.match(t, /"field":"content"/);
  t = errorText(await call("search", { query: "x", limit: 500 }));
  assert.match(t, /"field":"limit"/);
  t = errorText(await call("search", { query: "x", colour: "red" }));
  assert.match(t, /unknown argument 'colour'/);
  t = errorText(await call("get_capsule", { id: "../../admin" }));
  assert.match(t, /"field":"id"/);
  t = errorText(await call("get_capsule", { id: "01900000-0000-7000-8000-000000000000" }));
  assert.match(t, /HTTP 404, not_found/);
  // the API's own validation (here: metadata too deep/large is the API's call) comes back whole
  const big = {};
  for (let i = 0; i < 2000; i++) big["k" + i] = "v".repeat(100);
  t = errorText(await call("remember", { content: "x", metadata: big }));
  assert.match(t, /HTTP 4\d\d/);
  assert.match(t, /"field":"metadata/);
  // a proposal that does not exist
  t = errorText(await call("vote", { proposal_id: "01900000-0000-7000-8000-000000000000",
    vote: "for" }));
  assert.match(t, /HTTP 404/);
  // unknown tool: a JSON-RPC error (-32602)
  await assert.rejects(call("forget_everything", {}), (e) => e.code === -32602);
  // the session survives all of that
  assert.equal((await call("recent", {})).isError, false);
});

test("stdio: resources with pagination, templates, read, not found", async () => {
  const c = await stdioClient(user.token);
  const mine = [];
  for (let i = 0; i < 55; i++) {
    const r = await api("POST", "/api/v1/capsules", { content: `Resource capsule ${i}\nbody ${i}` },
      user.token);
    assert.equal(r.status, 201, r.text);
    mine.push(r.json.data.id);
  }
  const seen = [];
  let cursor, pages = 0;
  do {
    const r = await c.listResources(cursor ? { cursor } : {});
    pages++;
    for (const res of r.resources) {
      assert.match(res.uri, /^forge:\/\/capsules\//);
      assert.ok(res.name.length > 0 && res.name.length <= 80);
      seen.push(res.uri);
    }
    cursor = r.nextCursor;
  } while (cursor && pages < 100);
  assert.ok(pages >= 2, "more than one page");
  for (const id of mine) assert.ok(seen.includes("forge://capsules/" + id), id);
  assert.equal(new Set(seen).size, seen.length, "no duplicates across pages");

  const { resourceTemplates } = await c.listResourceTemplates();
  assert.equal(resourceTemplates[0].uriTemplate, "forge://capsules/{id}");

  const rd = await c.readResource({ uri: "forge://capsules/" + mine[3] });
  assert.equal(rd.contents[0].text, "Resource capsule 3\nbody 3");
  assert.equal(rd.contents[0].mimeType, "text/markdown");
  await assert.rejects(c.readResource({ uri: "forge://capsules/01900000-0000-7000-8000-000000000000" }),
    (e) => e.code === -32002);
  await assert.rejects(c.readResource({ uri: "file:///etc/passwd" }), (e) => e.code === -32002);
  await assert.rejects(c.listResources({ cursor: "not-a-cursor" }), (e) => e.code === -32602);
});

test("stdio: prompts", async () => {
  const c = await stdioClient(user.token);
  const { prompts } = await c.listPrompts();
  assert.equal(prompts[0].name, "answer_from_memory");
  assert.equal(prompts[0].arguments[0].name, "question");
  const g = await c.getPrompt({ name: "answer_from_memory",
    arguments: { question: "Who owns the backup job?" } });
  const text = g.messages[0].content.text;
  assert.match(text, /Who owns the backup job\?/);
  assert.match(text, /`search`/);
  assert.match(text, /cite the capsule id/);
  await assert.rejects(c.getPrompt({ name: "answer_from_memory", arguments: {} }),
    (e) => e.code === -32602);
  await assert.rejects(c.getPrompt({ name: "nope" }), (e) => e.code === -32602);
});

test("stdio raw: malformed JSON-RPC, unknown method, versions, batches, size limits", async () => {
  const r = rawStdio(user.token);
  r.send({ jsonrpc: "2.0", id: 1, method: "tools/list" });
  let m = await r.next();
  assert.equal(m.error.code, -32600, "before initialize");
  r.send(init("2099-01-01"));
  m = await r.next();
  assert.equal(m.result.protocolVersion, "2025-11-25", "unsupported → newest");
  r.send({ jsonrpc: "2.0", method: "notifications/initialized" }); // no reply
  r.send("{not json");
  m = await r.next();
  assert.equal(m.error.code, -32700);
  assert.equal(m.id, null);
  r.send({ jsonrpc: "1.0", id: 2, method: "ping" });
  assert.equal((await r.next()).error.code, -32600);
  r.send({ jsonrpc: "2.0", id: { x: 1 }, method: "ping" });
  assert.equal((await r.next()).error.code, -32600);
  r.send({ jsonrpc: "2.0", id: 3, method: "tools/frobnicate" });
  m = await r.next();
  assert.equal(m.id, 3);
  assert.equal(m.error.code, -32601);
  r.send({ jsonrpc: "2.0", id: 4, method: "tools/call", params: "search" });
  assert.equal((await r.next()).error.code, -32602);
  r.send([{ jsonrpc: "2.0", id: 5, method: "ping" }]);
  m = await r.next();
  assert.equal(m.error.code, -32600, "no batches on 2025-11-25");
  assert.match(m.error.message, /batch/);
  // oversized tool arguments: refused before any API call, the session lives on
  r.send({ jsonrpc: "2.0", id: 6, method: "tools/call",
    params: { name: "remember", arguments: { content: "x".repeat(1200 * 1024) } } });
  m = await r.next();
  assert.equal(m.id, 6);
  assert.equal(m.error.code, -32602);
  assert.match(m.error.message, /arguments too large/);
  // a message over the 2 MiB line limit
  r.send({ jsonrpc: "2.0", id: 7, method: "ping", params: { pad: "y".repeat(2200 * 1024) } });
  m = await r.next();
  assert.equal(m.error.code, -32600);
  assert.match(m.error.message, /too large/);
  r.send({ jsonrpc: "2.0", id: 8, method: "ping" });
  m = await r.next();
  assert.equal(m.id, 8);
  assert.deepEqual(m.result, {});
  await r.close();
  assert.equal(r.proc.exitCode, 0);
  assert.match(r.stderr(), /forge mcp: serving/, "logs go to stderr");

  // 2025-03-26: batches are answered as a batch; 2024-11-05: no outputSchema
  const b = rawStdio(user.token);
  b.send(init("2025-03-26"));
  assert.equal((await b.next()).result.protocolVersion, "2025-03-26");
  b.send([{ jsonrpc: "2.0", id: 10, method: "ping" }, { jsonrpc: "2.0", method: "notifications/x" },
    { jsonrpc: "2.0", id: 11, method: "nope" }, init("2025-03-26", 12)]);
  m = await b.next();
  assert.ok(Array.isArray(m));
  assert.deepEqual(m.map((x) => x.id), [10, 11, 12]);
  assert.deepEqual(m[0].result, {});
  assert.equal(m[1].error.code, -32601);
  assert.equal(m[2].error.code, -32600, "initialize is not allowed in a batch");
  await b.close();
  const o = rawStdio(user.token);
  o.send(init("2024-11-05"));
  assert.equal((await o.next()).result.protocolVersion, "2024-11-05");
  o.send({ jsonrpc: "2.0", id: 2, method: "tools/list" });
  m = await o.next();
  assert.equal(m.result.tools.length, TOOLS.length);
  assert.ok(m.result.tools.every((t) => t.inputSchema && !t.outputSchema));
  await o.close();
});

test("stdio: a token revoked mid-session gives a readable tool error", async () => {
  const u = await newUser();
  const c = await stdioClient(u.token);
  assert.equal((await c.callTool({ name: "recent", arguments: {} })).isError, false);
  const out = await api("POST", "/api/v1/auth/logout", {}, u.token);
  assert.ok(out.status === 200 || out.status === 204, out.text);
  const t = errorText(await c.callTool({ name: "search", arguments: { query: "anything" } }));
  assert.match(t, /HTTP 401/);
  assert.match(t, /log in again/);
  assert.ok(await c.ping(), "the session is still alive");
});

test("stdio: no credentials → exit 3 with a message on stderr", async () => {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), "forge-mcp-cfg-"));
  const p = spawn(FORGE_BIN, ["mcp"], { env: { PATH: process.env.PATH, FORGE_URL: F.url,
    XDG_CONFIG_HOME: cfg, HOME: cfg }, stdio: ["pipe", "pipe", "pipe"] });
  let err = "", out = "";
  p.stderr.on("data", (d) => { err += d; });
  p.stdout.on("data", (d) => { out += d; });
  const code = await new Promise((r) => p.on("exit", r));
  fs.rmSync(cfg, { recursive: true, force: true });
  assert.equal(code, 3);
  assert.equal(out, "", "nothing but JSON-RPC on stdout");
  assert.match(err, /not logged in/);
});

test("http: the SDK over Streamable HTTP: tools, resources, prompts", async () => {
  const { client: c, transport } = await httpClient(user.token);
  assert.ok(transport.sessionId && transport.sessionId.length >= 32);
  assert.equal(transport.protocolVersion, "2025-11-25");
  const { tools } = await c.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort());
  const r = await c.callTool({ name: "remember", arguments: {
    content: "The on-call rotation changes every Monday at 09:00 Europe/Berlin." } });
  assert.equal(r.isError, false, JSON.stringify(r));
  const id = r.structuredContent.id;
  const s = await c.callTool({ name: "search", arguments: { query: "on-call rotation handover" } });
  assert.ok(s.structuredContent.results.some((x) => x.id === id), JSON.stringify(s));
  const rd = await c.readResource({ uri: "forge://capsules/" + id });
  assert.match(rd.contents[0].text, /on-call rotation/);
  const lr = await c.listResources();
  assert.ok(lr.resources.length > 0);
  const g = await c.getPrompt({ name: "answer_from_memory", arguments: { question: "q?" } });
  assert.match(g.messages[0].content.text, /q\?/);
  // the capsule was created as this user (the API ran with the caller's token)
  const me = await api("GET", "/api/v1/auth/me", undefined, user.token);
  const cap = await api("GET", "/api/v1/capsules/" + id, undefined, user.token);
  assert.equal(cap.json.data.owner_id, me.json.data.id);
  const err = errorText(await c.callTool({ name: "get_capsule", arguments: {
    id: "01900000-0000-7000-8000-000000000000" } }));
  assert.match(err, /HTTP 404/);
});

test("http: two concurrent sessions, ending one leaves the other", async () => {
  const other = await newUser();
  const [a, b] = await Promise.all([httpClient(user.token), httpClient(other.token)]);
  assert.notEqual(a.transport.sessionId, b.transport.sessionId);
  const calls = [];
  for (let i = 0; i < 4; i++) {
    calls.push(a.client.callTool({ name: "remember", arguments: { content: `session A note ${i}` } }));
    calls.push(b.client.callTool({ name: "remember", arguments: { content: `session B note ${i}` } }));
  }
  const results = await Promise.all(calls);
  for (const r of results) assert.equal(r.isError, false, JSON.stringify(r));
  // each call ran as its session's account
  const recentB = await b.client.callTool({ name: "recent", arguments: { limit: 10 } });
  const meB = await api("GET", "/api/v1/auth/me", undefined, other.token);
  const bNotes = recentB.structuredContent.capsules.filter((x) => /session B note/.test(x.content));
  assert.equal(bNotes.length, 4);
  for (const x of bNotes) assert.equal(x.owner_id, meB.json.data.id);
  // a session id is bound to its account: B's id with A's token is unknown
  const stolen = await api("POST", "/mcp", { jsonrpc: "2.0", id: 1, method: "ping" }, user.token,
    { "Mcp-Session-Id": b.transport.sessionId });
  assert.equal(stolen.status, 404);
  const sidA = a.transport.sessionId;
  await a.transport.terminateSession();
  const gone = await api("POST", "/mcp", { jsonrpc: "2.0", id: 1, method: "ping" }, user.token,
    { "Mcp-Session-Id": sidA });
  assert.equal(gone.status, 404);
  assert.equal(gone.json.error.code, -32001);
  assert.equal((await b.client.callTool({ name: "recent", arguments: {} })).isError, false);
});

test("http: authentication, Origin, session header, methods", async () => {
  const body = init();
  let r = await api("POST", "/mcp", body);
  assert.equal(r.status, 401);
  assert.match(r.headers.get("www-authenticate"), /^Bearer/);
  assert.equal(r.json.code, "authentication_error");
  r = await api("POST", "/mcp", body, "not.a.token");
  assert.equal(r.status, 401);
  assert.match(r.headers.get("www-authenticate"), /Bearer.*invalid_token/);
  r = await api("POST", "/mcp", body, user.token, { Origin: "http://evil.example" });
  assert.equal(r.status, 403);
  assert.equal(r.json.details.rule, "origin");
  r = await api("POST", "/mcp", body, undefined, { Origin: "http://evil.example" });
  assert.equal(r.status, 403, "a foreign Origin is refused before authentication");
  r = await api("POST", "/mcp", body, user.token, { Origin: "http://localhost:6274" });
  assert.equal(r.status, 200, "loopback origins are allowed by default");
  const sid = r.headers.get("mcp-session-id");
  assert.ok(sid);
  r = await api("POST", "/mcp", { jsonrpc: "2.0", id: 2, method: "ping" }, user.token);
  assert.equal(r.status, 400, "Mcp-Session-Id required after initialize");
  r = await api("POST", "/mcp", { jsonrpc: "2.0", id: 2, method: "ping" }, user.token,
    { "Mcp-Session-Id": "0".repeat(48) });
  assert.equal(r.status, 404);
  r = await api("POST", "/mcp", { jsonrpc: "2.0", id: 2, method: "ping" }, user.token,
    { "Mcp-Session-Id": sid, "MCP-Protocol-Version": "1999-01-01" });
  assert.equal(r.status, 400);
  r = await api("POST", "/mcp", { jsonrpc: "2.0", method: "notifications/initialized" },
    user.token, { "Mcp-Session-Id": sid });
  assert.equal(r.status, 202);
  r = await api("POST", "/mcp", "{broken", user.token, { "Mcp-Session-Id": sid });
  // (a JSON string is valid JSON but not a request: -32600)
  assert.equal(r.status, 200);
  assert.equal(r.json.error.code, -32600);
  const raw = await fetch(F.url + "/mcp", { method: "POST", body: "{broken",
    headers: { Authorization: "Bearer " + user.token, "Mcp-Session-Id": sid,
      "Content-Type": "application/json" } });
  assert.equal(raw.status, 400);
  assert.equal((await raw.json()).error.code, -32700);
  r = await api("POST", "/mcp", { jsonrpc: "2.0", id: 3, method: "nope" }, user.token,
    { "Mcp-Session-Id": sid });
  assert.equal(r.json.error.code, -32601);
  r = await api("GET", "/mcp", undefined, user.token, { "Mcp-Session-Id": sid });
  assert.equal(r.status, 405, "no SSE stream");
  r = await api("DELETE", "/mcp", undefined, user.token, { "Mcp-Session-Id": sid });
  assert.equal(r.status, 204);
  r = await api("DELETE", "/mcp", undefined, user.token, { "Mcp-Session-Id": sid });
  assert.equal(r.status, 404);
});

test("http: a token revoked mid-session is refused with 401", async () => {
  const u = await newUser();
  const { client } = await httpClient(u.token);
  assert.equal((await client.callTool({ name: "recent", arguments: {} })).isError, false);
  const out = await api("POST", "/api/v1/auth/logout", {}, u.token);
  assert.ok(out.status === 200 || out.status === 204, out.text);
  await assert.rejects(client.callTool({ name: "recent", arguments: {} }),
    (e) => e.code === 401 && /revoked/.test(e.message));
});

test("http: oversized arguments are a JSON-RPC error, not a crash", async () => {
  const { client } = await httpClient(user.token);
  await assert.rejects(client.callTool({ name: "remember",
    arguments: { content: "z".repeat(1200 * 1024) } }), (e) => e.code === -32602 || /413/.test(e.message));
  assert.equal((await client.callTool({ name: "recent", arguments: {} })).isError, false);
});

test("http: MCP_HTTP_ENABLED=false and MCP_ALLOWED_ORIGINS", async () => {
  const off = await startForge({ MCP_HTTP_ENABLED: "false" }, { store: "sqlite" });
  const tok = await (async () => {
    const r = await fetch(off.url + "/api/v1/auth/login", { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(ADMIN) });
    return (await r.json()).data.access_token;
  })();
  let r = await fetch(off.url + "/mcp", { method: "POST", body: JSON.stringify(init()),
    headers: { Authorization: "Bearer " + tok, "Content-Type": "application/json" } });
  assert.equal(r.status, 404);
  const only = await startForge({ MCP_ALLOWED_ORIGINS: "https://agent.example" },
    { store: "sqlite" });
  const r2 = await fetch(only.url + "/api/v1/auth/login", { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(ADMIN) });
  const tok2 = (await r2.json()).data.access_token;
  for (const [origin, status] of [["https://agent.example", 200], ["http://localhost:1", 403]]) {
    r = await fetch(only.url + "/mcp", { method: "POST", body: JSON.stringify(init()),
      headers: { Authorization: "Bearer " + tok2, "Content-Type": "application/json",
        Origin: origin } });
    assert.equal(r.status, status, origin);
  }
});

// Last: under an ASan/UBSan build (FORGE_BIN=build-asan/forge) every `forge mcp` and the server
// must exit without a sanitizer report (leaks are reported at exit).
test("no sanitizer reports from forge mcp or forge serve", async () => {
  for (const c of stdioClients) await c.close();
  await new Promise((r) => setTimeout(r, 500)); // let the children write their exit reports
  for (const l of stdioLogs) assert.doesNotMatch(l.text, SANITIZER);
  const done = new Promise((r) => F.proc.once("exit", r));
  F.proc.kill("SIGTERM");
  await done;
  assert.doesNotMatch(F.log(), SANITIZER);
});
