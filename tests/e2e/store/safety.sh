#!/usr/bin/env bash
# What a careless user or a hostile file system entry must not do to the CLI and the store
# (issue 12): a file in the working directory named like a model never replaces it; a FIFO
# (or a symlink to one) as a model path never blocks a verb; a symlink loop and a 300-character
# name are clear errors; re-importing or removing leaves no orphaned blob; a dead writer's
# -partial and .tmp-PID files go at the next store write; a full disk during `create` leaves no
# empty manifest folders; `pull` contacts only configured registries and says the same for every
# connection failure.
# Usage: safety.sh POCKETLM_BIN STORIES_GGUF
source "$(dirname "$0")/lib.sh"
bin=$1
cp "$2" "$tmp/stories.gguf"
gguf=$tmp/stories.gguf
mnt=$tmp/small
btr=$tmp/btrfs
listener_pid=""
trap 'umount "$mnt" "$btr" 2>/dev/null || true; [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null; cleanup' EXIT
mdir=$POCKETLM_MODELS/manifests/registry.ollama.ai/library
nblobs() { find "$POCKETLM_MODELS/blobs" -type f | wc -l; }
# run_quick CMD...: runs with a 5 s deadline; a command that blocks fails the test.
run_quick() {
  local rc=0
  out=$(timeout 5 "$@" 2>&1 </dev/null) || rc=$?
  [ "$rc" != 124 ] || fail "blocked: $*"
  [ "$rc" != 0 ] || fail "succeeded: $*"
  [ "$rc" -lt 128 ] || fail "crashed (rc $rc): $*: $out"
}

echo "== a file in the working directory never stands for a model name"
mkdir -p "$tmp/cwd" && cd "$tmp/cwd"
echo hi >stories
cp "$gguf" qwen   # even a real GGUF
for verb in run show export; do
  run_quick "$bin" $verb stories $([ $verb = export ] && echo out.gguf)
  contains "$out" "model 'stories:latest' not found"
done
run_quick "$bin" run qwen "Once upon a time" -n 2
contains "$out" "model 'qwen:latest' not found"
check "$bin" import "$gguf" stories >/dev/null
[ -n "$("$bin" run stories "Once upon a time" -n 3 2>/dev/null)" ] || fail "store model not used"
[ -n "$("$bin" run ./qwen "Once upon a time" -n 3 2>/dev/null)" ] || fail "./path not read as a path"

echo "== a FIFO (or a symlink to one) as a model path never blocks"
mkfifo f.gguf
ln -s f.gguf link.gguf
printf 'FROM ./f.gguf\n' >Modelfile
for model in f.gguf ./link.gguf; do
  for cmd in "show $model" "import $model x" "tokenize -m $model -p hi" "eval -m $model --tokens 1" \
             "run $model hi"; do
    run_quick "$bin" $cmd
    contains "$out" "not a regular file"
  done
done
run_quick "$bin" create x -f Modelfile
contains "$out" "not a regular file (a FIFO)"
run_quick "$bin" show "$tmp/cwd"
contains "$out" "not a regular file (a directory)"
run_quick "$bin" show /dev/zero.gguf   # missing: a plain error
[ ! -e "$mdir/x" ] || fail "a failed import wrote a manifest"

echo "== a symlink loop and a 300-character name are clear errors"
ln -s loop-b.gguf loop-a.gguf
ln -s loop-a.gguf loop-b.gguf
run_quick "$bin" show ./loop-a.gguf
contains "$out" "symlink loop"
long=$(printf 'a%.0s' $(seq 1 300))
for verb in show run rm; do
  run_quick "$bin" $verb "$long"
  contains "$out" "is 300 characters long (at most 80)"
done
run_quick "$bin" show "$long.gguf"
contains "$out" "File name too long"
cd "$tmp"

echo "== re-importing a name, or removing it, leaves no orphaned blob"
"$bin" rm stories >/dev/null
[ "$(nblobs)" = 0 ] || fail "rm left blobs"
check "$bin" import "$gguf" m >/dev/null
cp "$gguf" "$tmp/other.gguf" && printf 'trailing bytes' >>"$tmp/other.gguf"
check "$bin" import "$tmp/other.gguf" m >/dev/null
[ "$(nblobs)" = 2 ] || fail "re-import orphaned the old blobs: $(ls "$POCKETLM_MODELS/blobs")"
[ -e "$POCKETLM_MODELS/blobs/sha256-$(sha256sum "$tmp/other.gguf" | cut -d' ' -f1)" ] || fail "new blob missing"
printf 'FROM m\nPARAMETER temperature 0\n' >"$tmp/Derived"
check "$bin" create d -f "$tmp/Derived" >/dev/null
printf 'FROM m\nPARAMETER temperature 1\n' >"$tmp/Derived"
check "$bin" create d -f "$tmp/Derived" >/dev/null   # replaces d: its old params blob goes
[ "$(nblobs)" = 4 ] || fail "create over a name orphaned blobs: $(ls "$POCKETLM_MODELS/blobs")"
"$bin" rm m d >/dev/null
[ "$(nblobs)" = 0 ] || fail "rm left blobs: $(ls "$POCKETLM_MODELS/blobs")"

echo "== a dead writer's -partial and .tmp-PID files go at the next store write"
check "$bin" import "$gguf" base >/dev/null
sh -c 'exit 0' & dead=$!; wait $dead
zeros=$(printf '0%.0s' $(seq 1 64))
head -c 5000 "$gguf" >"$POCKETLM_MODELS/blobs/sha256-$zeros-partial"   # what a killed import leaves
echo x >"$POCKETLM_MODELS/blobs/.sha256-$zeros.tmp-$dead"
echo '{}' >"$mdir/base/.latest.tmp-$dead"
check "$bin" import "$gguf" next >/dev/null
left=$(find "$POCKETLM_MODELS" -name '*-partial' -o -name '*.tmp-*')
[ -z "$left" ] || fail "stale temp files left: $left"

echo "== a full disk during create leaves no empty manifest folders and no new blobs"
# RLIMIT_FSIZE 0: every write of a byte fails (EFBIG, reported as disk full); mkdir still works.
before=$(cd "$POCKETLM_MODELS" && find . -not -name .lock | sort)
printf 'FROM base\n' >"$tmp/Same"
printf 'FROM base\nSYSTEM """new"""\n' >"$tmp/Sys"
for mf in Same Sys; do
  if out=$(trap '' XFSZ; ulimit -f 0; "$bin" create full -f "$tmp/$mf" 2>&1); then fail "create on a full disk succeeded"; fi
  contains "$out" "disk full"
done
[ "$before" = "$(cd "$POCKETLM_MODELS" && find . -not -name .lock | sort)" ] || fail "failed create left: $(cd "$POCKETLM_MODELS" && find . -newer "$tmp/Sys")"
# A real ENOSPC on a 2 MiB tmpfs, where we may mount one.
mkdir -p "$mnt"
if mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then
  small=$mnt/store
  POCKETLM_MODELS=$small check "$bin" import "$gguf" base >/dev/null
  dd if=/dev/zero of="$mnt/fill" bs=4096 2>/dev/null || true
  before=$(cd "$small" && find . -not -name .lock | sort)
  for mf in Same Sys; do
    if out=$(POCKETLM_MODELS=$small "$bin" create full -f "$tmp/$mf" 2>&1); then fail "create on a full tmpfs succeeded"; fi
    contains "$out" "disk full"
  done
  [ "$before" = "$(cd "$small" && find . -not -name .lock | sort)" ] || fail "ENOSPC left: $(cd "$small" && find .)"
  umount "$mnt"
else
  echo "SKIP: cannot mount a tmpfs here (not root?); the RLIMIT_FSIZE case above ran"
fi

echo "== on a file system with reflinks, import clones (shared extents), still isolated"
mkdir -p "$btr"
if command -v mkfs.btrfs >/dev/null && command -v filefrag >/dev/null && truncate -s 128M "$tmp/btrfs.img" &&
   mkfs.btrfs -q "$tmp/btrfs.img" >/dev/null 2>&1 && mount -o loop "$tmp/btrfs.img" "$btr" 2>/dev/null; then
  cp "$gguf" "$btr/m.gguf" && sync
  POCKETLM_MODELS=$btr/store check "$bin" import "$btr/m.gguf" m >/dev/null
  rblob=$btr/store/blobs/sha256-$(sha256sum "$gguf" | cut -d' ' -f1)
  sync
  filefrag -v "$rblob" | grep -q shared || fail "import on btrfs did not reflink: $(filefrag -v "$rblob")"
  [ "$(stat -c %i "$rblob")" != "$(stat -c %i "$btr/m.gguf")" ] || fail "import on btrfs hard-linked"
  head -c 100000 /dev/urandom | dd of="$btr/m.gguf" bs=1 seek=50000 conv=notrunc 2>/dev/null
  cmp -s "$rblob" "$gguf" || fail "writing the original changed the reflinked blob"
  umount "$btr"
else
  echo "SKIP: no btrfs loop mount here (needs root, btrfs-progs and filefrag); the copy path ran above"
fi

echo "== pull contacts only configured registries; every connection failure reads the same"
node -e 'const s = require("net").createServer((c) => { console.log("CONN"); c.destroy(); });
  s.listen(0, "127.0.0.1", () => console.log("PORT " + s.address().port));' >"$tmp/listen.out" &
listener_pid=$!
for _ in $(seq 1 100); do open=$(sed -n 's/^PORT //p' "$tmp/listen.out" 2>/dev/null || true); [ -n "$open" ] && break; sleep 0.05; done
[ -n "$open" ] || fail "listener did not start"
closed=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
unset POCKETLM_REGISTRY
run_quick "$bin" pull "127.0.0.1:$open/library/x:y"
contains "$out" "registry '127.0.0.1:$open' is not allowed"
contains "$out" "pocketlm pulls only from registry.ollama.ai, hf.co"
run_quick "$bin" pull "127.0.0.1:$open/x:y"   # not even a valid name
contains "$out" "invalid model name"
POCKETLM_REGISTRY=http://127.0.0.1:$closed run_quick "$bin" pull "127.0.0.1:$open/library/x:y"
contains "$out" "is not allowed"
! grep -q CONN "$tmp/listen.out" || fail "a refused pull connected"
POCKETLM_REGISTRY=http://127.0.0.1:$open run_quick "$bin" pull x:y
e_open=${out//$open/PORT}
grep -q CONN "$tmp/listen.out" || fail "the configured registry was not contacted"
POCKETLM_REGISTRY=http://127.0.0.1:$closed run_quick "$bin" pull x:y
e_closed=${out//$closed/PORT}
[ "$e_open" = "$e_closed" ] || fail "open and closed ports tell apart: '$e_open' vs '$e_closed'"
contains "$e_open" "cannot reach registry http://127.0.0.1:PORT"
POCKETLM_REGISTRY="127.0.0.1:$closed" run_quick "$bin" pull x:y   # no scheme: https
contains "$out" "cannot reach registry https://127.0.0.1:$closed"
echo "PASS"
