#!/usr/bin/env bash
# Fresh machine to first output: installs what is missing, builds pocketlm (Release), and runs
# the main job on the trained demo model: a greedy continuation of "Once upon a time".
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target pocketlm
MODEL=${MODEL:-../shared/models/stories260K.gguf}
# Token ids of "<s> Once upon a time" in the stories260K SentencePiece vocabulary.
./build/src/cli/pocketlm eval -m "$MODEL" --tokens 1,403,407,261,378 --generate 40 -t "$(nproc)"
