#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build dir build-fuzz) and fuzzes the GGUF reader for
# $FUZZ_SECONDS (default 60) on a scratch copy of the seed corpus, so the repo corpus never
# grows. Exits nonzero on any finding; crash inputs are kept in build-fuzz/fuzz-artifacts/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
seconds="${FUZZ_SECONDS:-60}"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOCKETLM_FUZZ=ON >/dev/null
cmake --build "$build" --target fuzz_gguf

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$build/fuzz-artifacts"
cp "$root"/tests/fuzz/corpus/gguf/* "$work/corpus/"
cp "$root"/tests/golden/gguf_corrupt/*.gguf "$work/corpus/" 2>/dev/null || true

"$build/tests/fuzz/fuzz_gguf" "$work/corpus" \
  -dict="$root/tests/fuzz/gguf.dict" \
  -max_total_time="$seconds" \
  -rss_limit_mb=2048 \
  -timeout=10 \
  -print_final_stats=1 \
  -artifact_prefix="$build/fuzz-artifacts/"
