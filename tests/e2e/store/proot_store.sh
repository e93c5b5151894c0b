#!/usr/bin/env bash
# Issue 18: on a phone, the Ollama stores inside proot-distro roots (Termux's
# $PREFIX/var/lib/proot-distro/installed-rootfs/<distro>/{root,home/<user>}/.ollama/models) are
# listed with their source and run in place: no byte copied, nothing there modified. A name held
# by two roots resolves to the first distro in name order; one in ~/.ollama wins over both; `cp`
# copies (never links) into pocketlm's store.
# Usage: proot_store.sh POCKETLM_BIN STORIES_GGUF
source "$(dirname "$0")/lib.sh"
bin=$1
stories=$2
export PREFIX=$tmp/prefix
rootfs=$PREFIX/var/lib/proot-distro/installed-rootfs
ubuntu=$rootfs/ubuntu/root/.ollama/models
alice=$rootfs/debian/home/alice/.ollama/models
id_u=$(node "$here/make_ollama_store.mjs" "$ubuntu" registry.ollama.ai/library/stories/260k "$stories" pulled \
  --params '{"temperature":0,"num_predict":4}')
id_a=$(node "$here/make_ollama_store.mjs" "$alice" registry.ollama.ai/library/tiny/latest "$stories" pulled \
  --params '{"temperature":0,"num_predict":3}')
# The same name in a second root (debian sorts before ubuntu: this one wins).
id_d=$(node "$here/make_ollama_store.mjs" "$rootfs/debian/root/.ollama/models" registry.ollama.ai/library/stories/260k \
  "$stories" pulled --params '{"temperature":0,"num_predict":2}')
snapshot() { (cd "$rootfs" && find . -type f -printf '%p %s %i %T@\n' | sort); }
before=$(snapshot)

echo "== list shows every root's models once, with their source"
out=$("$bin" list)
contains "$(head -1 <<<"$out")" "SOURCE"
contains "$(grep '^tiny:latest ' <<<"$out")" "debian:alice"
contains "$(grep '^tiny:latest ' <<<"$out")" "${id_a:0:12}"
[ "$(grep -c '^stories:260k ' <<<"$out")" = 1 ] || fail "stories:260k listed more than once: $out"
contains "$(grep '^stories:260k ' <<<"$out")" "debian:root"
contains "$(grep '^stories:260k ' <<<"$out")" "${id_d:0:12}"

echo "== run in place (the winning root's params apply)"
out=$("$bin" run stories:260k "Once upon a time" 2>&1)
[ "$(wc -w <<<"$out")" -le 2 ] || fail "num_predict 2 of debian's copy not applied: $out"
out=$("$bin" run tiny "Once upon a time" 2>&1)
[ "$(wc -w <<<"$out")" -le 3 ] || fail "num_predict 3 not applied: $out"
[ ! -e "$POCKETLM_MODELS/blobs" ] || [ -z "$(ls -A "$POCKETLM_MODELS/blobs")" ] || fail "bytes copied into pocketlm's store"
out=$("$bin" show tiny)
contains "$out" "architecture        llama"

echo "== ~/.ollama shadows the roots; rm refuses"
id_h=$(node "$here/make_ollama_store.mjs" "$tmp/home-ollama" registry.ollama.ai/library/stories/260k "$stories" pulled \
  --params '{"temperature":0,"num_predict":5}')
out=$(OLLAMA_MODELS=$tmp/home-ollama "$bin" list)
contains "$(grep '^stories:260k ' <<<"$out")" "${id_h:0:12}"
contains "$(grep '^stories:260k ' <<<"$out")" "ollama"
if "$bin" rm tiny >/dev/null 2>&1; then fail "rm of a proot-distro model succeeded"; fi
[ "$before" = "$(snapshot)" ] || fail "a proot-distro store was modified"

echo "== cp makes pocketlm's own copy (never a link)"
check "$bin" cp tiny mine:latest >/dev/null
hex=$(sha256sum "$stories" | cut -d' ' -f1)
[ "$(stat -c %i "$POCKETLM_MODELS/blobs/sha256-$hex")" != "$(stat -c %i "$alice/blobs/sha256-$hex")" ] || fail "cp linked the blob"
[ "$(stat -c %a "$POCKETLM_MODELS/blobs/sha256-$hex")" = 444 ] || fail "copied blob is not read-only"
contains "$(grep '^mine:latest ' <<<"$("$bin" list)")" "pocketlm"
[ "$before" = "$(snapshot)" ] || fail "a proot-distro store was modified by cp"

echo "== no roots: list has no SOURCE column"
out=$(PREFIX=$tmp/none "$bin" list)
if grep -q SOURCE <<<"$out"; then fail "SOURCE column without proot stores: $out"; fi
echo "PASS"
