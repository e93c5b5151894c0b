#!/usr/bin/env bash
# An Ollama store written exactly as Ollama writes it (both manifest shapes: a pulled manifest
# with sha256-<hex> blobs, and an older created one with sha256:<hex> blobs and "from" fields)
# around stories260K and a synthetic Qwen2 q8_0 model: `list`, `show` and `run` work on it with
# no byte copied, its params/system/license layers are honoured, its Go template gives way to
# the GGUF's, flags override params, pocketlm never modifies it, and `cp` copies its blobs (never
# a link: Ollama's files stay writable by their owner, ours are read-only).
# Usage: ollama_store.sh POCKETLM_BIN GEN_MODEL_BIN STORIES_GGUF
source "$(dirname "$0")/lib.sh"
bin=$1
gen=$2
stories=$3
export OLLAMA_MODELS=$tmp/ollama
"$gen" --preset qwen2-tiny --type q8_0 -o "$tmp/qwen.gguf" >/dev/null 2>&1 || fail "gen-model failed"
id_stories=$(node "$here/make_ollama_store.mjs" "$OLLAMA_MODELS" registry.ollama.ai/library/stories/260k "$stories" pulled \
  --params '{"temperature":0,"num_predict":4,"stop":["Lily"],"top_k":40}' --system 'You tell stories.' \
  --license $'MIT License\nCopyright (c) the authors' --template '{{ .System }} {{ .Prompt }}')
id_qwen=$(node "$here/make_ollama_store.mjs" "$OLLAMA_MODELS" registry.ollama.ai/someone/qwen-tiny/q8_0 "$tmp/qwen.gguf" created \
  --params '{"temperature":0,"num_predict":3}')
[ -e "$OLLAMA_MODELS/blobs/sha256:$(sha256sum "$tmp/qwen.gguf" | cut -d' ' -f1)" ] || fail "old blob naming not used"
snapshot() { (cd "$OLLAMA_MODELS" && find . -type f -printf '%p %s %i %T@\n' | sort); }
before=$(snapshot)

echo "== list"
out=$("$bin" list)
contains "$out" "NAME"
contains "$(grep '^stories:260k ' <<<"$out")" "${id_stories:0:12}"
contains "$(grep '^someone/qwen-tiny:q8_0 ' <<<"$out")" "${id_qwen:0:12}"
contains "$(grep '^stories:260k ' <<<"$out")" "1.2 MB"

echo "== show"
out=$("$bin" show stories:260k)
contains "$out" "architecture        llama"
contains "$out" "quantization        F32"
contains "$out" "context length      2048"
contains "$out" "Go template is ignored"
contains "$out" 'num_predict    4'
contains "$out" 'stop           "Lily"'
contains "$out" "You tell stories."
contains "$out" "MIT License"
out=$("$bin" show someone/qwen-tiny:q8_0)
contains "$out" "architecture        qwen2"
contains "$out" "quantization        Q8_0"
# A recognised built-in family, or (with the Jinja engine) the GGUF's own template, parsed.
grep -qE "chat template +((chatml|qwen3)$|the GGUF's Jinja template)" <<<"$out" || fail "Qwen chat template not recognised: $out"
if "$bin" show nosuch 2>/dev/null; then fail "show of a missing model succeeded"; fi

echo "== run (params honoured, flags override)"
out=$("$bin" run stories:260k "Once upon a time" 2>&1)
[ "$(wc -w <<<"$out")" -le 4 ] || fail "num_predict 4 from params not applied: $out"
long=$("$bin" run stories:260k "Once upon a time" -n 40 --stop zzz 2>&1)
[ "$(wc -w <<<"$long")" -gt 8 ] || fail "-n flag did not override params: $long"
grep -q "Lily" <<<"$long" || fail "expected the override run to pass 'Lily': $long"
stopped=$("$bin" run stories:260k "Once upon a time" -n 40 2>&1)
grep -q "Lily" <<<"$stopped" && fail "stop from params not applied: $stopped"
check "$bin" run someone/qwen-tiny:q8_0 "hello" >/dev/null 2>&1
[ ! -e "$POCKETLM_MODELS/blobs" ] || [ -z "$(ls -A "$POCKETLM_MODELS/blobs")" ] || fail "bytes copied into pocketlm's store"
[ "$before" = "$(snapshot)" ] || fail "Ollama's store was modified"

echo "== rm refuses Ollama's models; cp copies their blobs"
if out=$("$bin" rm stories:260k 2>&1); then fail "rm of an Ollama model succeeded"; fi
contains "$out" "use \`ollama rm\`"
check "$bin" cp stories:260k mine:latest >/dev/null
hex=$(sha256sum "$stories" | cut -d' ' -f1)
[ "$(stat -c %i "$POCKETLM_MODELS/blobs/sha256-$hex")" != "$(stat -c %i "$OLLAMA_MODELS/blobs/sha256-$hex")" ] ||
  fail "cp hard-linked Ollama's blob"
cmp -s "$POCKETLM_MODELS/blobs/sha256-$hex" "$OLLAMA_MODELS/blobs/sha256-$hex" || fail "cp's copy differs"
[ "$(stat -c %a "$POCKETLM_MODELS/blobs/sha256-$hex")" = 444 ] || fail "copied blob is not read-only"
contains "$("$bin" list)" "${id_stories:0:12}"
out=$("$bin" run mine "Once upon a time" 2>&1)
[ "$(wc -w <<<"$out")" -le 4 ] || fail "params lost in cp"
check "$bin" rm mine >/dev/null
[ -e "$OLLAMA_MODELS/blobs/sha256-$hex" ] || fail "Ollama blob removed"
[ "$before" = "$(snapshot)" ] || fail "Ollama's store was modified"
echo "PASS"
