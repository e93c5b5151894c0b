# Shared helpers for the store e2e scripts (sourced). Each script gets a private temp dir, its
# own stores, and a registry server on 127.0.0.1 that is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pocketlm-store-e2e.XXXXXX")
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp/home POCKETLM_MODELS=$tmp/pocketlm OLLAMA_MODELS=$tmp/no-ollama
mkdir -p "$HOME"

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { "$@" || fail "check failed: $*"; }
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $1"; }

# start_registry ROOT: serves ROOT; sets $port and $reg.
start_registry() {
  node "$here/registry.mjs" "$1" >"$tmp/registry.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^PORT //p' "$tmp/registry.out" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || fail "registry did not start: $(cat "$tmp/registry.out")"
  reg=http://127.0.0.1:$port
}
set_mode() { curl_ -X POST "$reg/_mode/$1" >/dev/null; }
# Tiny HTTP client in node (curl may not be installed).
curl_() {
  local method=GET url
  if [ "$1" = -X ]; then method=$2; shift 2; fi
  url=$1
  node -e "fetch(process.argv[1], {method: process.argv[2]}).then(r => r.text()).then(t => process.stdout.write(t))" "$url" "$method"
}
blob_size() { stat -c %s "$1"; }
