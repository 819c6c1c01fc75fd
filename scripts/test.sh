#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine (Node, npm packages, Docker and
# Podman with their API sockets, Chromium, docker-compose) and runs the whole suite: type-check, unit, integration on both
# engines. PostgreSQL: BERTH_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh "${BERTH_TEST_ENGINES:-docker,podman}"
# Browser tests (Swagger UI) drive Debian's Chromium through playwright-core, which downloads no browser.
command -v chromium >/dev/null || { log "installing chromium"; apt_install chromium; }
# The image and compose.yaml are proven with Debian's docker-compose (test/integration/compose.test.ts).
command -v docker-compose >/dev/null || { log "installing docker-compose"; apt_install docker-compose; }
npm test
