#!/usr/bin/env bash
# Fresh machine to first output: installs what is missing, builds pocketlm (Release), and runs
# the main job on the trained demo model: a story generated from a prompt, with its speed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target pocketlm
MODEL=${MODEL:-../shared/models/stories260K.gguf}
PROMPT=${PROMPT:-Once upon a time}
./build/src/cli/pocketlm run "$MODEL" "$PROMPT" --temp 0 -n 80 --verbose
