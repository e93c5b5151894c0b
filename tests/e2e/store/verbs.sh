#!/usr/bin/env bash
# import, create, list, show, rm, cp, export and ps on the pocketlm store, with their failure
# cases: import copies (read-only blobs, re-verified before reuse), bad input leaves nothing behind, a killed import resumes from its -partial file, a full
# disk (RLIMIT_FSIZE) gives a clear error and leaves the store as it was, rm keeps blobs other
# manifests use, and concurrent writers never corrupt the store.
# Usage: verbs.sh POCKETLM_BIN STORIES_GGUF
source "$(dirname "$0")/lib.sh"
bin=$1
cp "$2" "$tmp/stories.gguf"   # same file system as the store: import could hard-link (it must not)
gguf=$tmp/stories.gguf
hex=$(sha256sum "$gguf" | cut -d' ' -f1)
blob=$POCKETLM_MODELS/blobs/sha256-$hex
mdir=$POCKETLM_MODELS/manifests/registry.ollama.ai/library
tree() { (cd "$POCKETLM_MODELS" 2>/dev/null && find . -not -name .lock | sort) || true; }

echo "== import: a read-only copy, never a link; --copy still accepted; bad input"
contains "$("$bin" import "$gguf" stories)" "imported"
[ "$(stat -c %i "$blob")" != "$(stat -c %i "$gguf")" ] && cmp -s "$blob" "$gguf" || fail "import linked the user's file"
[ "$(stat -c %a "$blob")" = 444 ] || fail "blob is writable: $(stat -c %a "$blob")"
# The user overwrites their file in place: the store's model is unchanged and still runs.
cp "$gguf" "$tmp/keep.gguf"
head -c 300000 /dev/urandom | dd of="$gguf" bs=1 seek=100000 conv=notrunc 2>/dev/null
[ "$(sha256sum <"$blob" | cut -d' ' -f1)" = "$hex" ] || fail "overwriting the original changed the blob"
[ -n "$("$bin" run stories "Once upon a time" -n 4 2>/dev/null)" ] || fail "model broken by a change to the original"
cp "$tmp/keep.gguf" "$gguf"
# A blob corrupted anyway (an old store's hard link, a careless chmod) is re-verified and
# replaced by the next import of the same file, never reused.
chmod 644 "$blob"
printf 'X' | dd of="$blob" bs=1 seek=5000 conv=notrunc 2>/dev/null
check "$bin" import "$gguf" stories:again >/dev/null
[ "$(sha256sum <"$blob" | cut -d' ' -f1)" = "$hex" ] || fail "corrupt blob reused"
[ "$(stat -c %a "$blob")" = 444 ] || fail "replaced blob is writable"
"$bin" rm stories stories:again >/dev/null
check "$bin" import --copy "$gguf" stories:copy >/dev/null
[ "$(stat -c %i "$blob")" != "$(stat -c %i "$gguf")" ] && cmp -s "$blob" "$gguf" || fail "--copy did not copy"
head -c 1000 "$gguf" >"$tmp/trunc.gguf"
before=$(tree)
if out=$("$bin" import "$tmp/trunc.gguf" broken 2>&1); then fail "truncated GGUF imported"; fi
contains "$out" "error:"
if "$bin" import "$gguf" 'bad name!' 2>/dev/null; then fail "bad name accepted"; fi
if "$bin" import "$tmp/missing.gguf" x 2>/dev/null; then fail "missing file imported"; fi
[ "$before" = "$(tree)" ] || fail "failed imports changed the store"

echo "== killed import resumes from its -partial file"
"$bin" rm stories:copy >/dev/null
mkdir -p "$POCKETLM_MODELS/blobs"
# What a copy killed half-way leaves, with one byte wrong: resuming (not restarting) keeps the
# wrong byte, so the hash check must reject it and no final blob may appear.
head -c 500000 "$gguf" >"$blob-partial"
printf 'X' | dd of="$blob-partial" bs=1 seek=1000 conv=notrunc 2>/dev/null
if out=$("$bin" import --copy "$gguf" resumed 2>&1); then fail "resumed import ignored the partial"; fi
contains "$out" "failed verification"
[ ! -e "$blob" ] && [ ! -e "$blob-partial" ] || fail "corrupt partial kept or promoted"
head -c 500000 "$gguf" >"$blob-partial"
check "$bin" import --copy "$gguf" resumed >/dev/null
cmp -s "$blob" "$gguf" && [ ! -e "$blob-partial" ] || fail "resumed import incomplete"
"$bin" rm resumed >/dev/null

echo "== full disk (RLIMIT_FSIZE): clear error, store as it was"
before=$(tree)
if out=$(trap '' XFSZ; ulimit -f 256; "$bin" import --copy "$gguf" full 2>&1); then fail "import on a full disk succeeded"; fi
contains "$out" "disk full"
[ "$before" = "$(tree)" ] || fail "failed import left files: $(tree)"

echo "== create from a Modelfile"
mkdir -p "$tmp/mf"
cp "$gguf" "$tmp/mf/model.gguf"
cat >"$tmp/mf/Modelfile" <<'MF'
# a comment
FROM ./model.gguf
PARAMETER temperature 0
PARAMETER num_predict 3
PARAMETER stop "Lily"
PARAMETER stop "Tom"
SYSTEM """You are a
storyteller."""
LICENSE Apache-2.0
TEMPLATE """{{ .Prompt }}"""
MF
out=$("$bin" create teller -f "$tmp/mf/Modelfile" 2>&1)
contains "$out" "TEMPLATE ignored"
out=$("$bin" show teller)
contains "$out" 'stop           "Tom"'
contains "$out" "storyteller."
contains "$out" "Apache-2.0"
[ "$(wc -w <<<"$("$bin" run teller "Once upon a time" 2>/dev/null)")" -le 3 ] || fail "created params ignored"
printf 'FROM teller\nPARAMETER num_predict 9\n' >"$tmp/mf/Derived"
check "$bin" create derived -f "$tmp/mf/Derived" >/dev/null
out=$("$bin" show derived)
contains "$out" 'num_predict    9'
contains "$out" 'temperature    0'
contains "$out" "storyteller."
for bad in 'FORM x' 'PARAMETER temperature hot' 'PARAMETER nosuch 1' 'SYSTEM hi' 'MESSAGE user hi'; do
  printf '%s\n%s\n' "$([ "$bad" = 'SYSTEM hi' ] || echo 'FROM teller')" "$bad" >"$tmp/mf/Bad"
  if "$bin" create bad -f "$tmp/mf/Bad" 2>/dev/null; then fail "Modelfile accepted: $bad"; fi
done
[ ! -e "$mdir/bad" ] || fail "failed create wrote a manifest"

echo "== list, show on a path"
out=$("$bin" list)
[ "$(head -1 <<<"$out")" = "NAME              ID              SIZE      MODIFIED" ] || fail "list header: $out"
contains "$out" "teller:latest"
contains "$out" "derived:latest"
contains "$("$bin" show "$gguf")" "architecture        llama"

echo "== rm keeps blobs still referenced; cp; export"
check "$bin" cp teller teller2 >/dev/null
cmp -s "$mdir/teller/latest" "$mdir/teller2/latest" || fail "cp changed the manifest"
"$bin" rm teller derived >/dev/null
[ -e "$blob" ] || fail "rm deleted a blob teller2 uses"
check "$bin" export teller2 "$tmp/out.gguf" >/dev/null
cmp -s "$tmp/out.gguf" "$gguf" || fail "export differs"
if "$bin" export teller2 "$tmp/nodir/out.gguf" 2>/dev/null; then fail "export into a missing dir succeeded"; fi
if "$bin" rm teller 2>/dev/null; then fail "rm of a removed model succeeded"; fi
"$bin" rm teller2 >/dev/null
[ ! -e "$blob" ] || fail "last rm kept the blob"
[ -z "$(ls -A "$POCKETLM_MODELS/blobs")" ] || fail "blobs left: $(ls "$POCKETLM_MODELS/blobs")"
[ ! -e "$mdir" ] || fail "empty manifest dirs not pruned"

echo "== concurrent writers"
for i in 1 2 3 4; do "$bin" import --copy "$gguf" "par$i" >/dev/null & done
wait
for i in 1 2; do "$bin" rm "par$i" >/dev/null & "$bin" import "$gguf" "more$i" >/dev/null & done
wait
out=$("$bin" list)
for n in par3 par4 more1 more2; do contains "$out" "$n:latest"; done
cmp -s "$blob" "$gguf" || fail "blob corrupted"
[ -z "$(find "$POCKETLM_MODELS" -name '*partial*' -o -name '*.tmp-*')" ] || fail "temp files left"

echo "== ps"
out=$(POCKETLM_PORT=1 "$bin" ps)
contains "$out" "no pocketlm server running"
mkdir -p "$tmp/empty"
start_registry "$tmp/empty"   # it also answers /api/ps
node -e "fetch(process.argv[1], {method: 'POST', body: JSON.stringify({models: [{name: 'qwen2.5:0.5b',
  model: 'qwen2.5:0.5b', size: 1234567890, digest: 'a8b0c5157701', size_vram: 0, context_length: 4096,
  expires_at: new Date(Date.now() + 4.5 * 60000).toISOString()}]})})" "$reg/_ps"
out=$(POCKETLM_PORT=$port "$bin" ps)
contains "$out" "NAME            ID              SIZE      PROCESSOR    CONTEXT    UNTIL"
contains "$out" "qwen2.5:0.5b    a8b0c5157701    1.2 GB    100% CPU     4096       4 minutes from now"
echo "PASS"
