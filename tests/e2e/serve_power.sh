#!/usr/bin/env bash
# Issue 18, heat and battery on a fake sysfs tree ($POCKETLM_SYSFS_ROOT): `serve --thermal-limit`
# runs on half its threads (on one thread: pauses between forward passes) while a zone is past
# the limit and says so in /api/ps ("power") and `pocketlm ps`; once the zone cools it is back to
# full speed. Without flags and without
# readable sensors /api/ps stays Ollama's shape (no "power"). `run` takes the same flags.
# Loopback only.
# Usage: serve_power.sh POCKETLM_BIN STORIES_GGUF
set -euo pipefail
bin=$1
stories=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pocketlm-serve-power.XXXXXX")
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp/home POCKETLM_MODELS=$tmp/store OLLAMA_MODELS=$tmp/no-ollama PREFIX=$tmp/no-prefix
mkdir -p "$HOME" "$tmp/models"
cp "$stories" "$tmp/models/stories.gguf"
fail() { echo "FAIL: $*" >&2; exit 1; }
sys=$tmp/sys
put() { mkdir -p "$(dirname "$sys/$1")" && echo "$2" >"$sys/$1"; }
put class/thermal/thermal_zone0/type cpu-big
put class/thermal/thermal_zone0/temp 75000
put class/power_supply/battery/type Battery
put class/power_supply/battery/capacity 80
put class/power_supply/battery/status Discharging

# start ARGS...: serve on a free loopback port; sets $port and $pid.
start() {
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  "$bin" serve --port "$port" -t "${threads:-1}" --models-dir "$tmp/models" "$@" 2>"$tmp/err" &
  pid=$!
  for _ in $(seq 1 200); do
    grep -q "listening on" "$tmp/err" && return 0
    kill -0 "$pid" 2>/dev/null || fail "serve exited: $(cat "$tmp/err")"
    sleep 0.05
  done
  fail "serve did not start: $(cat "$tmp/err")"
}
stop() { kill "$pid"; wait "$pid" || true; pid=""; }
get() { node -e 'fetch(process.argv[1]).then(r => r.text()).then(t => process.stdout.write(t))' "http://127.0.0.1:$port$1"; }
field() { node -e 'const j = JSON.parse(process.argv[1]); const v = process.argv[2].split(".").reduce((o, k) => o?.[k], j);
                   console.log(v === undefined ? "undefined" : JSON.stringify(v))' "$1" "$2"; }
generate() {
  node -e 'fetch(process.argv[1], {method: "POST", body: JSON.stringify({model: process.argv[2], prompt: "Once upon a time",
             stream: false, options: {num_predict: 8, temperature: 0}})}).then(r => r.json()).then(j => console.log(j.eval_count))' \
    "http://127.0.0.1:$port/api/generate" "$tmp/models/stories.gguf"
}

echo "== hot on 1 thread: throttled, shown, passes paused"
POCKETLM_SYSFS_ROOT=$sys start --thermal-limit 70
grep -q "power: cpu-big at 75.0 C (limit 70.0 C): pausing between forward passes" "$tmp/err" || fail "no throttle line: $(cat "$tmp/err")"
ps=$(get /api/ps)
[ "$(field "$ps" power.throttled)" = true ] || fail "not throttled: $ps"
[ "$(field "$ps" power.max_temp_c)" = 75 ] || fail "max_temp_c: $ps"
[ "$(field "$ps" power.zone)" = '"cpu-big"' ] || fail "zone: $ps"
[ "$(field "$ps" power.battery_pct)" = 80 ] || fail "battery_pct: $ps"
[ "$(field "$ps" power.charging)" = false ] || fail "charging: $ps"
[ "$(field "$ps" power.threads)" = 1 ] || fail "threads: $ps"
[ "$(field "$ps" power.thermal_limit_c)" = 70 ] || fail "thermal_limit_c: $ps"
[ "$(field "$ps" models)" = "[]" ] || fail "models changed shape: $ps"
n=$(generate)
[ "$n" -ge 1 ] || fail "generation failed: $n"
ps=$(get /api/ps)
paused=$(field "$ps" power.paused_passes)
[ "$paused" -ge "$n" ] || fail "only $paused passes paused for $n tokens: $ps"
out=$(POCKETLM_PORT=$port "$bin" ps)
grep -q "^power: hottest zone cpu-big 75.0 C, battery 80% (discharging); limits: 70.0 C; 1 threads; THROTTLED (cpu-big at 75.0 C" <<<"$out" ||
  fail "ps does not show the throttle: $out"

echo "== cooled: full speed again"
put class/thermal/thermal_zone0/temp 60000
sleep 2.5  # the policy re-reads sysfs every 2 s
ps=$(get /api/ps)
[ "$(field "$ps" power.throttled)" = false ] || fail "still throttled after cooling: $ps"
before=$(field "$ps" power.paused_passes)
generate >/dev/null
[ "$(field "$(get /api/ps)" power.paused_passes)" = "$before" ] || fail "passes paused at full speed"
grep -q "power: back within limits: full speed" "$tmp/err" || fail "no restore line: $(cat "$tmp/err")"
contains_full=$(POCKETLM_PORT=$port "$bin" ps)
grep -q "; full speed$" <<<"$contains_full" || fail "ps: $contains_full"
stop

echo "== hot with 2 threads: passes run on 1, none paused"
put class/thermal/thermal_zone0/temp 75000
threads=2 POCKETLM_SYSFS_ROOT=$sys start --thermal-limit 70
grep -q "power: cpu-big at 75.0 C (limit 70.0 C): running on 1 of 2 threads" "$tmp/err" || fail "no throttle line: $(cat "$tmp/err")"
n=$(generate)
[ "$n" -ge 1 ] || fail "generation failed: $n"
ps=$(get /api/ps)
[ "$(field "$ps" power.threads)" = 2 ] || fail "threads: $ps"
[ "$(field "$ps" power.active_threads)" = 1 ] || fail "active_threads: $ps"
[ "$(field "$ps" power.throttle)" = '"half the threads"' ] || fail "throttle: $ps"
[ "$(field "$ps" power.lowered_passes)" -ge "$n" ] || fail "passes not lowered: $ps"
[ "$(field "$ps" power.paused_passes)" = 0 ] || fail "paused although threads could be lowered: $ps"
out=$(POCKETLM_PORT=$port "$bin" ps)
grep -q "; 2 threads; THROTTLED (cpu-big at 75.0 C (limit 70.0 C)): running on 1 of them$" <<<"$out" || fail "ps: $out"
put class/thermal/thermal_zone0/temp 60000
sleep 2.5
generate >/dev/null
ps=$(get /api/ps)
[ "$(field "$ps" power.active_threads)" = 2 ] || fail "threads not restored after cooling: $ps"
stop

echo "== no flags, no sensors: Ollama's shape"
POCKETLM_SYSFS_ROOT=$tmp/empty start
ps=$(get /api/ps)
[ "$(field "$ps" power)" = undefined ] || fail "power shown without flags or sensors: $ps"
stop
echo "== no flags, sensors readable: shown, never throttled"
POCKETLM_SYSFS_ROOT=$sys start
ps=$(get /api/ps)
[ "$(field "$ps" power.throttled)" = false ] || fail "$ps"
[ "$(field "$ps" power.threads)" = undefined ] || fail "policy fields without a policy: $ps"
stop
echo "== run takes the same flags"
put class/thermal/thermal_zone0/temp 75000
out=$(POCKETLM_SYSFS_ROOT=$sys "$bin" run "$tmp/models/stories.gguf" "Once" -n 4 -t 1 --thermal-limit 70 2>&1 >/dev/null)
grep -q "power: cpu-big at 75.0 C (limit 70.0 C): pausing" <<<"$out" || fail "run: no throttle line: $out"
out=$(POCKETLM_SYSFS_ROOT=$tmp/empty "$bin" run "$tmp/models/stories.gguf" "Once" -n 4 -t 1 --min-battery 20 2>&1 >/dev/null)
grep -q "warning: --min-battery: no readable battery" <<<"$out" || fail "run: no warning without a battery: $out"
echo "serve power: ok"
