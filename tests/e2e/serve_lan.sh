#!/usr/bin/env bash
# Issue 18, serving the LAN from a phone: --lan is --host 0.0.0.0 and, like it, refuses to start
# without a key unless --insecure; --api-key-file reads the key from a file's first line
# (trimmed; unreadable or empty: an error; with --api-key: an error; readable by others: a
# warning); once listening on a non-loopback host, serve prints the LAN addresses and a curl line
# for the PC whose Authorization header is a placeholder, never the key. The server started here
# always has a key. Usage: serve_lan.sh POCKETLM_BIN
set -euo pipefail
bin=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pocketlm-serve-lan.XXXXXX")
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp/home POCKETLM_MODELS=$tmp/store OLLAMA_MODELS=$tmp/no-ollama PREFIX=$tmp/no-prefix
mkdir -p "$HOME"
fail() { echo "FAIL: $*" >&2; exit 1; }
refused() {  # refused PATTERN ARGS...: serve exits non-zero at once, saying PATTERN, never listening
  local pat=$1 out
  shift
  if out=$(timeout 20 "$bin" serve --port 1 "$@" 2>&1); then fail "serve $* started: $out"; fi
  grep -qE -- "$pat" <<<"$out" || fail "serve $*: expected /$pat/ in: $out"
  if grep -q "listening on" <<<"$out"; then fail "serve $* listened: $out"; fi
}

refused "--host 0.0.0.0 is reachable from other machines; give --api-key" --lan
refused "cannot read --api-key-file $tmp/missing" --lan --api-key-file "$tmp/missing"
printf '   \nsecond line\n' >"$tmp/empty"
refused "the first line is empty" --lan --api-key-file "$tmp/empty"
printf 'k\n' >"$tmp/k"
refused "excludes" --lan --api-key abc --api-key-file "$tmp/k"
refused "--lan listens on 0.0.0.0" --lan --host 10.1.2.3 --api-key abc

key="sekrit-$RANDOM$RANDOM"
printf '  %s  \nnot the key\n' "$key" >"$tmp/key"
chmod 644 "$tmp/key"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$bin" serve --lan --api-key-file "$tmp/key" --port "$port" -t 1 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 200); do
  grep -q "from another machine" "$tmp/err" && break
  kill -0 "$pid" 2>/dev/null || fail "serve exited: $(cat "$tmp/err")"
  sleep 0.05
done
err=$(cat "$tmp/err")
grep -q "warning: $tmp/key can be read by other users" <<<"$err" || fail "no warning for a 0644 key file: $err"
grep -q "listening on http://0.0.0.0:$port" <<<"$err" || fail "no listening line: $err"
grep -qE "^(reachable at http://[0-9.]+:$port|no LAN IPv4 address found)" <<<"$err" || fail "no LAN address: $err"
if grep -q "reachable at http://127\." <<<"$err"; then fail "a loopback address printed as a LAN address: $err"; fi
grep -qE "^from another machine: curl http://[0-9A-Z_.]+:$port/api/tags -H 'Authorization: Bearer YOUR_KEY'$" <<<"$err" ||
  fail "no curl line with a placeholder: $err"
if grep -qF -- "$key" <<<"$err"; then fail "the key was printed: $err"; fi
# The key from the file (trimmed) is the one the server wants.
status() {
  node -e 'fetch(process.argv[1], {headers: process.argv[2] ? {Authorization: "Bearer " + process.argv[2]} : {}})
             .then(r => console.log(r.status))' "http://127.0.0.1:$port/api/tags" "${1:-}"
}
[ "$(status "$key")" = 200 ] || fail "the file's key was refused"
[ "$(status "wrong")" = 401 ] || fail "a wrong key was accepted"
[ "$(status)" = 401 ] || fail "no key was accepted"
kill "$pid"
wait "$pid" || true
pid=""

# chmod 600: no warning.
chmod 600 "$tmp/key"
out=$(timeout 20 "$bin" serve --lan --api-key-file "$tmp/key" --keep-alive bogus 2>&1 || true)
grep -q "invalid --keep-alive" <<<"$out" || fail "expected the keep-alive error: $out"
if grep -q "can be read by other users" <<<"$out"; then fail "warned for a 0600 key file: $out"; fi
echo "serve lan: ok"
