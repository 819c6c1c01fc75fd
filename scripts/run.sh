#!/usr/bin/env bash
# Installs and starts Berth on a fresh machine with the example runners (examples/berth.yaml):
# API and worker in one process on http://127.0.0.1:3000 (Swagger UI at /docs). Without
# DATABASE_URL, an embedded PostgreSQL is kept in ./.berth. Uses DOCKER_HOST when set, else
# starts Docker if it is not running.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${DOCKER_HOST:-}" ]; then source scripts/setup.sh ""; else source scripts/setup.sh docker; fi
node scripts/example-image.ts
exec node src/cli.ts start --config "${BERTH_CONFIG:-examples/berth.yaml}"
