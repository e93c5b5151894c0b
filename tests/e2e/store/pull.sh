#!/usr/bin/env bash
# `pocketlm pull` through a local registry: a clean pull, a dropped connection resumed with a
# Range request (within one pull, and by the next pull), a pull killed with SIGKILL and resumed,
# a corrupted blob rejected and not kept, a full disk, unknown models, plain http refused, and
# only registries listed in $POCKETLM_REGISTRY contacted (http only where an entry says http://).
# Usage: pull.sh POCKETLM_BIN STORIES_GGUF
source "$(dirname "$0")/lib.sh"
bin=$1
gguf=$2
name=registry.ollama.ai/library/stories/260k
node "$here/make_ollama_store.mjs" "$tmp/registry" "$name" "$gguf" pulled \
  --params '{"temperature":0,"num_predict":5}' --system 'You tell stories.' --license 'MIT' >/dev/null
start_registry "$tmp/registry"
export POCKETLM_REGISTRY=$reg   # http://127.0.0.1:PORT: names without a host go to this mirror
model_hex=$(sha256sum "$gguf" | cut -d' ' -f1)
blob=$POCKETLM_MODELS/blobs/sha256-$model_hex
partial=$blob-partial
manifest=$POCKETLM_MODELS/manifests/$name
ranges() { curl_ "$reg/_log" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).filter(e=>e.range).map(e=>e.range).join(' ')))"; }

echo "== clean pull"
out=$("$bin" pull stories:260k 2>&1)
contains "$out" "pulling manifest"
contains "$out" "pulling ${model_hex:0:12}: 100%"
contains "$out" "success"
check cmp -s "$manifest" "$tmp/registry/manifests/$name"   # registry bytes kept verbatim
check cmp -s "$blob" "$gguf"
[ ! -e "$partial" ] || fail "partial left behind"
out=$("$bin" run stories:260k "Once upon a time" 2>&1)
[ "$(wc -w <<<"$out")" -le 6 ] || fail "params layer (num_predict 5) not applied: $out"
out=$("$bin" pull stories:260k 2>&1)   # already complete: nothing downloaded
[ -z "$(ranges)" ] || fail "unexpected range requests"

echo "== connection dropped once: the same pull resumes with a Range request"
"$bin" rm stories:260k >/dev/null
set_mode drop-once
check "$bin" pull stories:260k 2>/dev/null
check cmp -s "$blob" "$gguf"
contains "$(ranges)" "bytes="

echo "== connection always dropped: pull fails, keeps the partial, the next pull resumes"
"$bin" rm stories:260k >/dev/null
set_mode drop
if out=$("$bin" pull stories:260k 2>&1); then fail "pull succeeded through a dropping registry"; fi
contains "$out" "run pull again to resume"
[ ! -e "$blob" ] && [ ! -e "$manifest" ] || fail "partial data under a final name"
have=$(blob_size "$partial")
[ "$have" -gt 0 ] || fail "partial not kept"
set_mode normal
check "$bin" pull stories:260k 2>/dev/null
contains "$(ranges)" "bytes=$have-"
check cmp -s "$blob" "$gguf"
[ ! -e "$partial" ] || fail "partial left behind"

echo "== pull killed mid-blob with SIGKILL, then resumed"
"$bin" rm stories:260k >/dev/null
set_mode stall
"$bin" pull stories:260k 2>/dev/null &
pid=$!
for _ in $(seq 1 100); do
  [ -s "$partial" ] && [ "$(blob_size "$partial")" -ge $(( $(blob_size "$gguf") / 2 )) ] && break
  sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null || true
have=$(blob_size "$partial")
[ "$have" -gt 0 ] && [ ! -e "$blob" ] && [ ! -e "$manifest" ] || fail "killed pull left a final blob or manifest"
set_mode normal
check "$bin" pull stories:260k 2>/dev/null
contains "$(ranges)" "bytes=$have-"
check cmp -s "$blob" "$gguf"

echo "== corrupted blob: rejected, nothing kept"
"$bin" rm stories:260k >/dev/null
[ ! -e "$blob" ] || fail "rm kept an unreferenced blob"
set_mode corrupt
if out=$("$bin" pull stories:260k 2>&1); then fail "corrupt blob accepted"; fi
contains "$out" "failed verification"
[ ! -e "$blob" ] && [ ! -e "$partial" ] && [ ! -e "$manifest" ] || fail "corrupt data kept"
set_mode normal

echo "== full disk (RLIMIT_FSIZE): clear error, store unchanged"
before=$(cd "$POCKETLM_MODELS" && find . | sort)
if out=$(trap '' XFSZ; ulimit -f 256; "$bin" pull stories:260k 2>&1); then fail "pull succeeded on a full disk"; fi
contains "$out" "disk full"
after=$(cd "$POCKETLM_MODELS" && find . | sort)
[ "$before" = "$after" ] || fail "store changed by a failed pull: $before / $after"

echo "== unknown model, non-loopback http"
if out=$("$bin" pull nosuch:1b 2>&1); then fail "pull of unknown model succeeded"; fi
contains "$out" "not found in registry"
if out=$(POCKETLM_REGISTRY=http://example.com "$bin" pull stories:260k 2>&1); then fail "plain http allowed"; fi
contains "$out" "only loopback registries may use http"

echo "== only configured registries: by host, https unless the entry says http://"
check "$bin" pull "127.0.0.1:$port/library/stories:260k" 2>/dev/null   # the entry's own host
check cmp -s "$POCKETLM_MODELS/manifests/127.0.0.1:$port/library/stories/260k" "$tmp/registry/manifests/$name"
if out=$(POCKETLM_REGISTRY=127.0.0.1:$port "$bin" pull stories:260k 2>&1); then fail "plain http without http://"; fi
contains "$out" "cannot reach registry https://127.0.0.1:$port"
if out=$(POCKETLM_REGISTRY=registry.ollama.ai "$bin" pull "127.0.0.1:$port/library/stories:260k" 2>&1); then
  fail "pulled from a registry not configured"
fi
contains "$out" "registry '127.0.0.1:$port' is not allowed"
echo "PASS"
