// bench/mcp/overhead.mjs: the two transports side by side. Same corpus as bench.mjs (1 000
// capsules created through the API), then M `search` calls (hybrid, then semantic) through
// `forge mcp` (stdio) and through POST /mcp (Streamable HTTP), both with the SDK client. Prints
// median and p99 per call. (Node's fetch straight to the API is not a useful baseline: on this
// machine it cost 7-8 ms per request by itself, more than a whole MCP call.)
//   cd bench/mcp && FORGE_BIN=$PWD/../../build/forge node overhead.mjs      (M=500)
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TARGETS, fillers } from "./corpus.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const FORGE_BIN = path.resolve(process.env.FORGE_BIN || path.join(here, "../../build/forge"));
const M = Number(process.env.M || 500);
const ADMIN = { email: "admin@forge.test", password: "Adm1nPassw0rd!" };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "forge-mcp-overhead-"));
const port = await new Promise((res) => { const s = net.createServer();
  s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
const env = {};
for (const [k, v] of Object.entries(process.env))
  if (!/^(FORGE_|DATABASE_|JWT_|REDIS_|KAFKA_|EMBEDDING_)/.test(k)) env[k] = v;
Object.assign(env, { HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warning",
  DATABASE_URL: "sqlite:///" + path.join(dir, "forge.db"), FORGE_ENV_FILE: "/dev/null",
  JWT_SECRET: "bench-secret-0123456789-0123456789-abcdef", RATE_LIMIT_ENABLED: "false",
  FORGE_ADMIN_EMAIL: ADMIN.email, FORGE_ADMIN_PASSWORD: ADMIN.password });
const proc = spawn(FORGE_BIN, ["serve"], { env, cwd: dir, stdio: "ignore" });
const url = `http://127.0.0.1:${port}`;
for (let i = 0; i < 300; i++) {
  try { if ((await fetch(url + "/health/ready")).status === 200) break; } catch { /* wait */ }
  await new Promise((r) => setTimeout(r, 100));
}
const token = (await (await fetch(url + "/api/v1/auth/login", { method: "POST",
  headers: { "Content-Type": "application/json" }, body: JSON.stringify(ADMIN) })).json())
  .data.access_token;
const auth = { Authorization: "Bearer " + token, "Content-Type": "application/json" };
for (const text of [...TARGETS.map((t) => t[0]), ...fillers(980)])
  await fetch(url + "/api/v1/capsules", { method: "POST", headers: auth,
    body: JSON.stringify({ content: text }) });

async function timed(fn) {
  const lat = [];
  for (let i = 0; i < M; i++) {
    const a = performance.now();
    await fn(TARGETS[i % TARGETS.length][1]);
    lat.push(performance.now() - a);
  }
  lat.sort((x, y) => x - y);
  return { p50_ms: +lat[Math.floor(M / 2)].toFixed(2), p99_ms: +lat[Math.floor(M * 0.99)].toFixed(2) };
}
const stdio = new Client({ name: "overhead", version: "1" });
await stdio.connect(new StdioClientTransport({ command: FORGE_BIN, args: ["mcp"], stderr: "ignore",
  env: { FORGE_URL: url, FORGE_TOKEN: token, XDG_CONFIG_HOME: dir, HOME: dir } }));
const http = new Client({ name: "overhead", version: "1" });
await http.connect(new StreamableHTTPClientTransport(new URL(url + "/mcp"),
  { requestInit: { headers: { Authorization: "Bearer " + token } } }));
const out = { m: M, load_avg: os.loadavg().map((x) => +x.toFixed(1)) };
for (const mode of ["hybrid", "semantic"]) {
  out[mode] = {
    mcp_stdio: await timed((q) => stdio.callTool({ name: "search", arguments: { query: q, mode, limit: 5 } })),
    mcp_http: await timed((q) => http.callTool({ name: "search", arguments: { query: q, mode, limit: 5 } })),
  };
}
console.log(JSON.stringify(out, null, 2));
await stdio.close();
await http.close();
proc.kill("SIGTERM");
await new Promise((r) => proc.once("exit", r));
fs.rmSync(dir, { recursive: true, force: true });
