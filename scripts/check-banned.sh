#!/usr/bin/env bash
# Fails when a banned libc function appears in src/ (see docs/CONTRIBUTING.md).
set -eu
cd "$(dirname "$0")/.."
pat='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atof)[[:space:]]*\('
if git grep -nE "$pat" -- 'src/*.c' 'src/*.h'; then
  echo "banned function used (see docs/CONTRIBUTING.md)" >&2
  exit 1
fi

# Layering (docs/CONTRIBUTING.md): core never includes http/ or api/. The call context
# (core/ctx.h) carries what core needs of a request; the composition root that wires the layers
# together is src/app/app.c, outside core. Exceptions under src/core/ (none today) go here.
core_roots=''
bad=$(git grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"(http|api)/' -- 'src/core/*.c' 'src/core/*.h' |
  while IFS= read -r hit; do
    f=${hit%%:*}
    case " $core_roots " in *" $f "*) ;; *) echo "$hit" ;; esac
  done)
if [ -n "$bad" ]; then
  echo "$bad"
  echo "src/core/ must not include http/ or api/ (see docs/CONTRIBUTING.md, layering)" >&2
  exit 1
fi
