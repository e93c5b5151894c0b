#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build dir build-fuzz) and runs each for $FUZZ_SECONDS
# (default 60) on a scratch copy of its seed corpus, so the repo corpus never grows:
#   fuzz_gguf          the GGUF reader
#   fuzz_http_request  request bodies of both APIs through to generation parameters
#   fuzz_jinja         chat templates (parse and render with a fixed conversation)
#   fuzz_gbnf          GBNF grammars, then a matcher and a token mask over the bytes after a NUL
#   fuzz_json_schema   JSON Schemas compiled to GBNF; what compiles must parse
# FUZZ_TARGETS="a b" picks some. Exits nonzero on any finding; crash inputs are kept in
# build-fuzz/fuzz-artifacts/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
seconds="${FUZZ_SECONDS:-60}"
default_targets="fuzz_gguf fuzz_http_request"
[ -f "$root/tests/fuzz/fuzz_jinja.cpp" ] && default_targets+=" fuzz_jinja"
[ -f "$root/tests/fuzz/fuzz_gbnf.cpp" ] && default_targets+=" fuzz_gbnf"
[ -f "$root/tests/fuzz/fuzz_json_schema.cpp" ] && default_targets+=" fuzz_json_schema"
targets=(${FUZZ_TARGETS:-$default_targets})

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOCKETLM_FUZZ=ON >/dev/null
cmake --build "$build" --target "${targets[@]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz-artifacts"

for target in "${targets[@]}"; do
  name="${target#fuzz_}"
  corpus="$work/$name"
  mkdir -p "$corpus"
  dict=()
  case "$name" in
    gguf)
      cp "$root"/tests/fuzz/corpus/gguf/* "$corpus/"
      cp "$root"/tests/golden/gguf_corrupt/*.gguf "$corpus/" 2>/dev/null || true
      dict=(-dict="$root/tests/fuzz/gguf.dict") ;;
    http_request)
      cp "$root"/tests/fuzz/corpus/http/* "$corpus/"
      dict=(-dict="$root/tests/fuzz/http.dict") ;;
    jinja)
      # Seeds: the real templates tools/chat_corpus.py put in the Release build (not committed).
      cp "$root"/build/chat-corpus/templates/* "$corpus/" 2>/dev/null || true
      [ -f "$root/tests/fuzz/jinja.dict" ] && dict=(-dict="$root/tests/fuzz/jinja.dict") ;;
    gbnf)
      cp "$root"/tests/fuzz/corpus/gbnf/* "$corpus/"
      dict=(-dict="$root/tests/fuzz/gbnf.dict") ;;
    json_schema)
      cp "$root"/tests/fuzz/corpus/json_schema/* "$corpus/"
      dict=(-dict="$root/tests/fuzz/json_schema.dict") ;;
  esac
  echo "== fuzz $target for ${seconds} s"
  "$build/tests/fuzz/$target" "$corpus" "${dict[@]}" \
    -max_total_time="$seconds" \
    -rss_limit_mb=2048 \
    -timeout=10 \
    -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/$name-"
done
