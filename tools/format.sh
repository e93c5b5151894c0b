#!/usr/bin/env bash
# clang-format over every C++ source the project owns (.clang-format). With --check (what CI runs)
# it changes nothing and fails listing the files that differ; without, it rewrites them.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^tests/golden/')
if [ "${1:-}" = --check ]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf 'format: %s needs clang-format (run tools/format.sh)\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files follow .clang-format"
else
  clang-format --style=file -i "${files[@]}"
fi
