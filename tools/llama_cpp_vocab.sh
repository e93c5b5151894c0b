#!/usr/bin/env bash
# Extracts llama.cpp's tokenizer test vocabularies (models/ggml-vocab-*.gguf with their .inp/.out
# cases) from the llama.cpp source node-llama-cpp ships (llama/gitRelease.bundle) into OUT, for
# tests/unit/tokenizer/llama_vocab_test.cpp. Nothing of it is committed; an unchanged bundle is
# not extracted again. CTest runs this as the fixture llama_cpp_vocab_setup (tests/CMakeLists.txt).
#   bash tools/llama_cpp_vocab.sh node_modules/node-llama-cpp/llama/gitRelease.bundle build/llama-cpp-vocab
set -euo pipefail
bundle=$1
out=$2
[ -f "$bundle" ] || { echo "llama_cpp_vocab: $bundle missing: node-llama-cpp is not installed; run tools/setup.sh" >&2; exit 1; }
hash=$(sha256sum "$bundle" | cut -d' ' -f1)
if [ -f "$out/bundle.sha256" ] && [ "$(cat "$out/bundle.sha256")" = "$hash" ]; then exit 0; fi
rm -rf "$out"
mkdir -p "$out"
repo="$out/repo.git"
git clone -q --bare "$bundle" "$repo"
git --git-dir "$repo" ls-tree --name-only HEAD models/ | grep '^models/ggml-vocab-' | while read -r path; do
  git --git-dir "$repo" cat-file blob "HEAD:$path" >"$out/${path#models/}"
done
rm -rf "$repo"
cases=$(find "$out" -name 'ggml-vocab-*.gguf.inp' | wc -l)
[ "$cases" -gt 0 ] || { echo "llama_cpp_vocab: no ggml-vocab-*.gguf.inp in $bundle" >&2; exit 1; }
echo "$hash" >"$out/bundle.sha256"
echo "llama_cpp_vocab: $(find "$out" -name 'ggml-vocab-*.gguf' | wc -l) vocabularies, $cases with test cases, in $out"
