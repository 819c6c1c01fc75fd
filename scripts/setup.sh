#!/usr/bin/env bash
# Set-up shared by scripts/run.sh and scripts/test.sh (and so CI): everything Berth needs on a
# fresh Debian machine, installed and started only where it is missing. Idempotent.
#
#   source scripts/setup.sh <engines>     engines: comma list of docker,podman (default docker);
#                                         "" installs and starts none: the engine DOCKER_HOST names
#                                         must already answer
#
# Afterwards PATH has Node >= 22.18 and node_modules is installed.
set -euo pipefail

berth_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Only a missing argument means docker: run.sh passes "" when DOCKER_HOST is set.
engines="${1-docker}"

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

node_ok() {
  command -v node >/dev/null && node -e '
    const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 22 || (a === 22 && b >= 18) ? 0 : 1)'
}

ensure_node() {
  # pg-boss 12 needs Node >= 22.12, and running src/*.ts without a flag (type stripping) 22.18;
  # machines with an older one get Node 24 from the npm registry.
  if [ -x "$berth_root/.tools/node_modules/.bin/node" ]; then
    export PATH="$berth_root/.tools/node_modules/.bin:$PATH"
  fi
  if ! node_ok; then
    log "installing Node 24 into .tools/ (found $(node --version 2>/dev/null || echo none))"
    # Quiet when it works; npm's own error lines when it does not (a registry refused, a proxy's certificate).
    local out; out="$(mktemp)"
    if ! npm install --no-audit --no-fund --prefix "$berth_root/.tools" node@24 >"$out" 2>&1; then
      grep -E '^npm (error|ERR!)' "$out" | head -n 5 >&2; rm -f "$out"
      log "could not install Node 24 with npm (above: why)"; return 1
    fi
    rm -f "$out"
    export PATH="$berth_root/.tools/node_modules/.bin:$PATH"
  fi
  node_ok || { log "could not get Node >= 22.18"; return 1; }
}

ensure_packages() {
  # A symlinked node_modules (a second worktree sharing one) belongs to the checkout it points into: npm ci here would empty it.
  if [ -L "$berth_root/node_modules" ]; then return 0; fi
  if [ ! -d "$berth_root/node_modules" ] || [ "$berth_root/package-lock.json" -nt "$berth_root/node_modules/.package-lock.json" ]; then
    log "installing npm dependencies"
    (cd "$berth_root" && npm ci --silent --no-audit --no-fund)
  fi
}

# The example and test images are built from a static busybox, since no registry is reachable.
ensure_busybox() {
  if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
    log "installing busybox-static"
    apt_install busybox-static file
  fi
}

wait_for_socket() {
  local socket="$1" name="$2"
  for _ in $(seq 1 60); do
    if curl -sf --unix-socket "$socket" http://engine/_ping >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$name did not answer on $socket; see its log in /tmp"; return 1
}

# DOCKER_HOST names an engine Berth does not manage: check that it answers (unix sockets only;
# tcp:// and ssh:// are left to Berth, which reports an unreachable engine itself).
check_docker_host() {
  case "$DOCKER_HOST" in
    unix://*)
      curl -sf --unix-socket "${DOCKER_HOST#unix://}" http://engine/_ping >/dev/null 2>&1 && return 0
      log "no container engine answers at DOCKER_HOST=$DOCKER_HOST: start it, or unset DOCKER_HOST to use Docker"
      return 1 ;;
  esac
}

ensure_docker() {
  if curl -sf --unix-socket /var/run/docker.sock http://engine/_ping >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null || { log "installing docker.io"; apt_install docker.io; }
  log "starting dockerd (no default bridge: task containers use network none)"
  as_root sh -c 'nohup dockerd --bridge=none --iptables=false >/tmp/berth-dockerd.log 2>&1 &'
  wait_for_socket /var/run/docker.sock dockerd
}

ensure_podman() {
  local socket=/run/podman/podman.sock
  # Runners get an init (HostConfig.Init) by default: Podman needs catatonit for it, and refuses to
  # start the container without. Checked even when Podman already runs. (Docker's docker-init
  # comes with docker.io, through its tini dependency.)
  if [ ! -x /usr/libexec/podman/catatonit ]; then log "installing catatonit (Podman's init)"; apt_install catatonit; fi
  if curl -sf --unix-socket "$socket" http://engine/_ping >/dev/null 2>&1; then return 0; fi
  command -v podman >/dev/null && command -v runc >/dev/null || { log "installing podman and runc"; apt_install podman runc; }
  if [ ! -f /etc/containers/containers.conf ]; then
    # crun fails on these hosts' cgroup layout; default ulimits must stay within the host's hard limits.
    as_root mkdir -p /etc/containers
    as_root sh -c 'cat > /etc/containers/containers.conf' <<'CONF'
[engine]
runtime = "runc"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
CONF
  fi
  log "starting the podman API service"
  as_root mkdir -p /run/podman
  # From /: conmon leaves files (an empty "oom" after a container's OOM kill) in the service's working directory.
  as_root sh -c "cd / && nohup podman system service --time=0 unix://$socket >/tmp/berth-podman.log 2>&1 &"
  wait_for_socket "$socket" podman
}

command -v curl >/dev/null || apt_install curl
ensure_node
ensure_packages
ensure_busybox
if [ -z "$engines" ] && [ -n "${DOCKER_HOST:-}" ]; then check_docker_host; fi
for engine in ${engines//,/ }; do
  case "$engine" in
    docker) ensure_docker ;;
    podman) ensure_podman ;;
    *) log "unknown engine '$engine'"; exit 1 ;;
  esac
done
