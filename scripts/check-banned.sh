#!/usr/bin/env bash
# Fails when a banned libc function appears in src/ (see docs/CONTRIBUTING.md).
set -eu
cd "$(dirname "$0")/.."
pat='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atof)[[:space:]]*\('
if git grep -nE "$pat" -- 'src/*.c' 'src/*.h'; then
  echo "banned function used (see docs/CONTRIBUTING.md)" >&2
  exit 1
fi
