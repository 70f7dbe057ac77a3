#!/usr/bin/env bash
# Regenerates tests/deploy/schemas/grafana-dashboard.schema.json: the JSON Schema of Grafana's own
# `Dashboard` TypeScript type (npm @grafana/schema, version pinned in package.json), made with
# ts-json-schema-generator. test_dashboard.sh regenerates it into a temp file and fails when the
# committed copy differs, so the schema is always the one of the pinned package.
#   usage: gen-grafana-schema.sh [OUT]     (default: the committed path)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/schemas/grafana-dashboard.schema.json}"
cd "$here"
node node_modules/ts-json-schema-generator/bin/ts-json-schema-generator.js \
    --path node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts \
    --type Dashboard --no-type-check --out "$out"
