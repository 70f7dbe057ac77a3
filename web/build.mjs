// Builds the dashboard and embeds it: bundles src/ with esbuild (content-hashed names), writes
// index.html, the PWA manifest and icons, gzip variants, checks the JS budget and writes the C
// table that src/http/web.c serves. Run by CMake at `make` time (only when web/ changes):
//   node build.mjs --out <dist dir> --c <generated .c file> [--no-typecheck]
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { pngIcon, svgIcon } from "./icons.mjs";

if (Number(process.versions.node.split(".")[0]) < 18) {
  console.error(`web: Node.js >= 18 is needed, this is ${process.version}`);
  process.exit(1);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const out = path.resolve(opt("--out", path.join(here, "dist")));
const cOut = opt("--c", null);
const JS_BUDGET_GZ = 150 * 1024;

if (!args.includes("--no-typecheck")) {
  // Type errors fail the build (tsc from the pinned devDependencies).
  execFileSync(process.execPath, [path.join(here, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", here], {
    stdio: "inherit",
  });
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, "assets"), { recursive: true });

const result = await build({
  absWorkingDir: here,
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: true,
  sourcemap: false,
  legalComments: "none",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: path.join(out, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});

const files = new Map(); // url path -> {data, type, immutable}
const types = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".webmanifest": "application/manifest+json",
};
const add = (url, data, immutable) => {
  const type = types[path.extname(url)];
  if (!type) throw new Error("no content type for " + url);
  files.set(url, { data: Buffer.from(data), type, immutable });
};
const hashed = (name, ext, data) =>
  `/assets/${name}-${createHash("sha256").update(data).digest("hex").slice(0, 10)}${ext}`;

let entryJs = null;
let entryCss = null;
for (const [file, info] of Object.entries(result.metafile.outputs)) {
  const abs = path.resolve(here, file);
  const url = "/assets/" + path.basename(abs);
  add(url, fs.readFileSync(abs), true);
  if (info.entryPoint === "src/main.tsx" && file.endsWith(".js")) {
    entryJs = url;
    if (info.cssBundle) entryCss = "/assets/" + path.basename(info.cssBundle);
  }
}
if (!entryJs || !entryCss) throw new Error("esbuild produced no entry script or stylesheet");

const svg = svgIcon();
const svgUrl = hashed("icon", ".svg", svg);
add(svgUrl, svg, true);
const icons = [];
for (const [size, maskable] of [
  [192, false],
  [512, false],
  [512, true],
]) {
  const png = pngIcon(size, maskable);
  const url = hashed(`icon-${size}${maskable ? "-maskable" : ""}`, ".png", png);
  add(url, png, true);
  icons.push({ src: url, sizes: `${size}x${size}`, type: "image/png", purpose: maskable ? "maskable" : "any" });
}
icons.push({ src: svgUrl, sizes: "any", type: "image/svg+xml", purpose: "any" });
const appleIcon = icons[0].src;

const manifest = {
  name: "Forge",
  short_name: "Forge",
  description: "Institutional memory: capsules, lineage, governance",
  start_url: "/",
  scope: "/",
  display: "standalone",
  background_color: "#0f172a",
  theme_color: "#1d4ed8",
  icons,
};
add("/manifest.webmanifest", JSON.stringify(manifest, null, 1), false);

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="theme-color" content="#1d4ed8">
<meta name="description" content="Forge dashboard">
<title>Forge</title>
<link rel="manifest" href="/manifest.webmanifest">
<link rel="icon" href="${svgUrl}" type="image/svg+xml">
<link rel="apple-touch-icon" href="${appleIcon}">
<link rel="stylesheet" href="${entryCss}">
<script type="module" src="${entryJs}"></script>
</head>
<body>
<div id="app"><noscript>The Forge dashboard needs JavaScript. The API is under /api/v1 (see /docs).</noscript></div>
</body>
</html>
`;
add("/index.html", html, false);

// gzip variants (kept only when smaller) and the JS budget.
let jsRaw = 0;
let jsGz = 0;
let entryGz = 0;
for (const [url, f] of files) {
  const gz = zlib.gzipSync(f.data, { level: 9 });
  if (gz.length < f.data.length * 0.95) f.gz = gz;
  if (url.endsWith(".js")) {
    jsRaw += f.data.length;
    jsGz += gz.length;
    if (url === entryJs) entryGz = gz.length;
  }
  const dest = path.join(out, url);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, f.data);
  if (f.gz) fs.writeFileSync(dest + ".gz", f.gz);
}
const kb = (n) => (n / 1024).toFixed(1) + " KB";
console.log(
  `web: ${files.size} files, JS ${kb(jsRaw)} minified, ${kb(jsGz)} gzipped in total ` +
    `(entry ${kb(entryGz)} gzipped; budget ${kb(JS_BUDGET_GZ)})`,
);
fs.writeFileSync(
  path.join(out, "size.json"),
  JSON.stringify({ js_bytes: jsRaw, js_gzip_bytes: jsGz, entry_gzip_bytes: entryGz, budget_gzip_bytes: JS_BUDGET_GZ }) + "\n",
);
if (jsGz > JS_BUDGET_GZ) {
  console.error(`web: JS is ${kb(jsGz)} gzipped, over the ${kb(JS_BUDGET_GZ)} budget`);
  process.exit(1);
}

if (cOut) {
  const lines = ['/* Generated by web/build.mjs; do not edit. */', '#include "http/web.h"', ""];
  const arr = (name, buf) => {
    lines.push(`static const unsigned char ${name}[${buf.length || 1}] = {`);
    for (let i = 0; i < buf.length; i += 24) lines.push("    " + Array.from(buf.subarray(i, i + 24)).join(",") + ",");
    if (!buf.length) lines.push("    0");
    lines.push("};");
  };
  const entries = [];
  let n = 0;
  for (const [url, f] of [...files].sort((a, b) => a[0].localeCompare(b[0]))) {
    const id = `a${n++}`;
    arr(id, f.data);
    if (f.gz) arr(id + "gz", f.gz);
    entries.push(
      `    {${JSON.stringify(url)}, ${JSON.stringify(f.type)}, ${id}, ${f.data.length}u, ` +
        `${f.gz ? id + "gz" : "NULL"}, ${f.gz ? f.gz.length : 0}u, ${f.immutable ? 1 : 0}},`,
    );
  }
  lines.push("", "const struct http_web_asset http_web_assets[] = {", ...entries, "};");
  lines.push(`const size_t http_web_assets_count = ${entries.length};`, "");
  fs.mkdirSync(path.dirname(path.resolve(cOut)), { recursive: true });
  const tmp = path.resolve(cOut) + ".tmp";
  fs.writeFileSync(tmp, lines.join("\n"));
  fs.renameSync(tmp, path.resolve(cOut));
}
