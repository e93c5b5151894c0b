#!/usr/bin/env bash
# Builds and runs every test: the format check, the Release build (warnings as errors) with all
# tests (unit, kernels, e2e, load, differential tests against llama.cpp), the unit tests again
# under AddressSanitizer + UndefinedBehaviorSanitizer, the server/runtime tests under
# ThreadSanitizer, the libFuzzer targets for a bounded time, and the aarch64 leg under qemu.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
jobs=$(nproc)

echo "== format"
tools/format.sh --check

echo "== release build + all tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOCKETLM_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" -LE diff
ctest --test-dir build --output-on-failure -L diff

echo "== ASan + UBSan build + unit tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOCKETLM_SANITIZE=ON -DPOCKETLM_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit

echo "== ThreadSanitizer: server, batching, model manager and runtime tests"
tools/test_tsan.sh

echo "== fuzz: GGUF reader, HTTP requests, chat templates"
FUZZ_SECONDS=${FUZZ_SECONDS:-45} tools/fuzz.sh

echo "== aarch64 cross build + unit tests under qemu (one run per ISA level)"
tools/test_aarch64.sh
