#!/usr/bin/env bash
# `npm run deploy` / `npm run rotate-key`: set up (Node 22, wrangler, the build tools), then
# run scripts/<deploy|rotate-key>.mjs with the remaining arguments. wrangler deploy builds
# the worker through wrangler.toml's [build] command.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
what="$1"; shift
case "$what" in
  deploy|rotate-key) ;;
  *) echo "usage: scripts/deploy.sh deploy|rotate-key [options]" >&2; exit 2 ;;
esac
bash "$here/setup.sh" >&2
source "$here/env.sh"
exec node "$here/$what.mjs" "$@"
