#!/usr/bin/env bash
# Side-by-side speed of pocketlm and llama.cpp on the same GGUF files, same threads, one run:
# prefill (pp) and decode (tg) tokens/s, their ratio, peak RSS of both, pocketlm's load time, and
# decode as a share of this machine's bandwidth ceiling (read bandwidth / bytes read per token).
# Repetitions of the two engines are interleaved so a busy machine slows both alike.
#
#   LLAMA_BENCH=/path/to/llama-bench bench/compare.sh
#
# Environment (all optional but LLAMA_BENCH):
#   LLAMA_BENCH   the peer's llama-bench, built natively from llama.cpp (never built by this repo)
#   BUILD         pocketlm build dir (default: build)
#   MODELS_DIR    where the synthetic models are generated once (default: ~/.cache/pocketlm-bench)
#   MODELS        space-separated subset of: q05-q4_0 q05-q4_k_m q05-q8_0 r1-q4_k_m (default: all)
#   THREADS       thread counts (default: "1 2"); REPS repetitions (default: 3)
#   PP, TG        prompt and generated tokens (default: 512 and 128)
#   OUT           also write the table (markdown) and raw JSON here (default: bench/results)
#   LLAMA_COMMIT  the peer's llama.cpp commit, for the table (a build from a source archive
#                 reports "unknown")
set -euo pipefail
cd "$(dirname "$0")/.."

: "${LLAMA_BENCH:?set LLAMA_BENCH to the path of a natively built llama-bench}"
BUILD=${BUILD:-build}
MODELS_DIR=${MODELS_DIR:-$HOME/.cache/pocketlm-bench}
MODELS=${MODELS:-"q05-q4_0 q05-q4_k_m q05-q8_0 r1-q4_k_m"}
THREADS=${THREADS:-"1 2"}
REPS=${REPS:-3}
PP=${PP:-512}
TG=${TG:-128}
OUT=${OUT:-bench/results}
pocketlm=$BUILD/src/cli/pocketlm
gen=$BUILD/bin/pocketlm-gen-model
for tool in "$pocketlm" "$gen" "$LLAMA_BENCH" /usr/bin/time; do
  [ -x "$tool" ] || { echo "compare: missing $tool (build pocketlm; apt install time)" >&2; exit 1; }
done
mkdir -p "$MODELS_DIR" "$OUT"
raw=$OUT/compare-raw.jsonl
: >"$raw"

model_file() {  # name -> generated file (made once)
  local name=$1 preset type
  case $name in
    q05-*) preset=qwen2.5-0.5b; type=${name#q05-} ;;
    r1-*) preset=r1-qwen-1.5b; type=${name#r1-} ;;
    *) echo "compare: unknown model $name" >&2; exit 1 ;;
  esac
  local f=$MODELS_DIR/$preset-$type.gguf
  if [ ! -f "$f" ]; then
    echo "compare: generating $f" >&2
    "$gen" --preset "$preset" --type "$type" -o "$f.tmp" >&2 && mv "$f.tmp" "$f"
  fi
  echo "$f"
}

# One repetition of one engine: appends {engine, model, threads, test, ts, rss} lines to $raw.
run_pocketlm() {
  local f=$1 t=$2 name=$3 json
  json=$("$pocketlm" bench -m "$f" -p "$PP" -n "$TG" -t "$t" -r 1 -o json 2>/dev/null)
  node -e '
    const [name, t] = process.argv.slice(1);
    for (const r of JSON.parse(require("fs").readFileSync(0, "utf8"))) {
      console.log(JSON.stringify({engine: "pocketlm", model: name, threads: +t,
        test: r.n_gen > 0 ? "tg" : "pp", ts: r.avg_ts, rss: r.peak_rss_bytes,
        ceiling: r.ceiling_ts, load_ms: r.load_ms}));
    }' "$name" "$t" <<<"$json" >>"$raw"
}

run_llama() {
  local f=$1 t=$2 name=$3 json rss_file
  rss_file=$(mktemp)
  json=$(/usr/bin/time -f %M -o "$rss_file" "$LLAMA_BENCH" -m "$f" -p "$PP" -n "$TG" -t "$t" -r 1 \
         -o json ${LLAMA_BENCH_ARGS:-} 2>/dev/null)
  local rss_kib
  rss_kib=$(tail -1 "$rss_file")
  rm -f "$rss_file"
  node -e '
    const [name, t, rssKib] = process.argv.slice(1);
    for (const r of JSON.parse(require("fs").readFileSync(0, "utf8"))) {
      console.log(JSON.stringify({engine: "llama.cpp", model: name, threads: +t,
        test: r.n_gen > 0 ? "tg" : "pp", ts: r.avg_ts, rss: 1024 * rssKib}));
    }' "$name" "$t" "$rss_kib" <<<"$json" >>"$raw"
}

for name in $MODELS; do
  f=$(model_file "$name")
  for t in $THREADS; do
    for ((r = 1; r <= REPS; r++)); do
      echo "compare: $name -t $t repetition $r/$REPS" >&2
      run_pocketlm "$f" "$t" "$name"
      run_llama "$f" "$t" "$name"
    done
  done
done

peer_commit=$("$LLAMA_BENCH" -o json -p 0 -n 1 -r 1 -m "$f" 2>/dev/null |
              node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8"))[0];
                       process.stdout.write(`${process.argv[1] || r.build_commit} (${r.cpu_info}, ${r.backends})`)' \
                       "${LLAMA_COMMIT:-}" || true)
node bench/compare_table.mjs "$raw" "$PP" "$TG" "$peer_commit" | tee "$OUT/compare.md"
