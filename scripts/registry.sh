#!/usr/bin/env bash
# A real OCI registry on loopback (Debian's docker-registry), for trying release bundles by hand
# and for end-to-end runs. The crate tests start their own registries; this is for everything else.
#
#   scripts/registry.sh start [DIR] [PORT]   start in the background; prints REGISTRY=127.0.0.1:PORT
#   scripts/registry.sh stop  [DIR]          stop it and remove DIR
#   scripts/registry.sh run   [PORT]         run in the foreground until Ctrl-C
#
# Options (environment):
#   REGISTRY_USER / REGISTRY_PASSWORD   demand HTTP basic auth (htpasswd, bcrypt) with these
#
# DIR defaults to ${TMPDIR:-/tmp}/acp-registry, PORT to a free port. Install the registry with
# `apt-get install -y docker-registry` (scripts/install-prereqs.sh does).
set -euo pipefail

BINARY=${DOCKER_REGISTRY:-docker-registry}
DEFAULT_DIR="${TMPDIR:-/tmp}/acp-registry"

die() { echo "registry.sh: $*" >&2; exit 1; }

need_binary() {
  command -v "$BINARY" >/dev/null 2>&1 ||
    die "$BINARY is not installed; install it with: apt-get install -y docker-registry"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

htpasswd_line() {
  local user=$1 password=$2
  if command -v htpasswd >/dev/null 2>&1; then
    htpasswd -nbB "$user" "$password" | head -n1
  else
    python3 - "$user" "$password" <<'EOF' || die "basic auth needs htpasswd (apt-get install -y apache2-utils) or python3-bcrypt"
import sys, bcrypt
print(f"{sys.argv[1]}:{bcrypt.hashpw(sys.argv[2].encode(), bcrypt.gensalt()).decode()}")
EOF
  fi
}

# write_config DIR PORT: the registry's config.yml, storage under DIR/data.
write_config() {
  local dir=$1 port=$2
  mkdir -p "$dir/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn, accesslog: {disabled: true}}"
    echo "storage:"
    echo "  filesystem: {rootdirectory: $dir/data}"
    echo "  delete: {enabled: true}"
    echo "http: {addr: 127.0.0.1:$port, secret: acp-local-only}"
    if [[ -n "${REGISTRY_USER:-}" ]]; then
      htpasswd_line "$REGISTRY_USER" "${REGISTRY_PASSWORD:?REGISTRY_PASSWORD must be set with REGISTRY_USER}" >"$dir/htpasswd"
      echo "auth: {htpasswd: {realm: acp-registry, path: $dir/htpasswd}}"
    fi
  } >"$dir/config.yml"
}

# wait_ready PORT PID: until GET /v2/ answers (200, or 401 with auth), the process dies, or 30 s pass.
wait_ready() {
  local port=$1 pid=$2 deadline=$((SECONDS + 30)) code
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true)
    [[ $code == 200 || $code == 401 ]] && return 0
    sleep 0.1
  done
  return 1
}

cmd=${1:-}
case "$cmd" in
  start)
    need_binary
    dir=${2:-$DEFAULT_DIR}
    port=${3:-$(free_port)}
    if [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      die "a registry already runs from $dir (pid $(cat "$dir/pid")); stop it with: $0 stop $dir"
    fi
    mkdir -p "$dir"
    write_config "$dir" "$port"
    "$BINARY" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    echo "$port" >"$dir/port"
    if ! wait_ready "$port" "$pid"; then
      kill "$pid" 2>/dev/null || true
      cat "$dir/registry.log" >&2
      die "the registry did not answer on http://127.0.0.1:$port/v2/ (log above)"
    fi
    echo "REGISTRY=127.0.0.1:$port"
    ;;
  stop)
    dir=${2:-$DEFAULT_DIR}
    [[ -f "$dir/pid" ]] || die "no registry started from $dir"
    pid=$(cat "$dir/pid")
    if kill "$pid" 2>/dev/null; then
      # wait for it to exit so the port and files are free
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$dir"
    ;;
  run)
    need_binary
    port=${2:-5000}
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    write_config "$dir" "$port"
    echo "registry on http://127.0.0.1:$port (storage $dir/data); Ctrl-C to stop" >&2
    "$BINARY" serve "$dir/config.yml"
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
