#!/usr/bin/env bash
# Builds and runs every test: the Release build with all tests (unit, kernels, differential
# tests against llama.cpp), the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
# and the GGUF fuzzer for a bounded time. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
jobs=$(nproc)

echo "== release build + all tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" -LE diff
ctest --test-dir build --output-on-failure -L diff

echo "== ASan + UBSan build + unit tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOCKETLM_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit

echo "== fuzz the GGUF reader"
FUZZ_SECONDS=${FUZZ_SECONDS:-60} tools/fuzz.sh

echo "== aarch64 cross build + unit tests under qemu (one run per ISA level)"
tools/test_aarch64.sh
