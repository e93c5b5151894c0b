#!/usr/bin/env bash
# The ThreadSanitizer leg: builds only the tests of the threaded parts (test_unit_server: the
# HTTP connection layer, the server, batched decode across slots and the model manager;
# test_unit_runtime: sessions and the sampler over the engine's thread pool) with
# -fsanitize=thread (POCKETLM_TSAN) in build-tsan, and runs them with halt_on_error=1: any
# reported race fails the leg. Small on purpose (two test binaries and the libraries they
# link) so it fits CI's 2 cores. POCKETLM_TSAN_BUILD picks the folder; extra TSAN_OPTIONS are kept.
# Left out: planner_models.*, which execv() the pocketlm and pocketlm-gen-model binaries (single-
# threaded planning; building those under TSan would double the leg).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${POCKETLM_TSAN_BUILD:-build-tsan}
jobs=${POCKETLM_TSAN_JOBS:-$(nproc)}
targets=(test_unit_server test_unit_runtime)

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOCKETLM_TSAN=ON >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
# TSan's shadow memory needs the classic address-space layout: with the kernel's high mmap
# randomisation it aborts ("unexpected memory mapping"), so run without ASLR where setarch can.
norandom=()
if command -v setarch >/dev/null && setarch "$(uname -m)" -R true 2>/dev/null; then
  norandom=(setarch "$(uname -m)" -R)
fi
for t in "${targets[@]}"; do
  bin=$(find "$build/tests" -name "$t" -type f -perm -u+x | head -n 1)
  [ -n "$bin" ] || { echo "test_tsan: $t was not built" >&2; exit 1; }
  echo "== $t under ThreadSanitizer"
  start=$(date +%s)
  filter='*'
  # Left out: tests that run the CLI or pocketlm-gen-model, which this build does not make.
  [ "$t" = test_unit_runtime ] && filter='-planner_models.*:constrained_generation.*'
  "${norandom[@]}" "$bin" --gtest_brief=1 --gtest_filter="$filter"
  echo "$t: $(($(date +%s) - start)) s"
done
