#!/usr/bin/env bash
# `pocketlm run --format json|SCHEMA_FILE` on a generated qwen2-tiny (random weights, sampled at
# temperature 1): every answer that finished parses, and a schema's answers follow the schema;
# schema files that cannot be used are refused with the error's exit code (README: 2 invalid
# input, 3 not found, 4 unsupported) and a message naming the file or keyword.
# Usage: cli_format.sh POCKETLM_BIN POCKETLM_GEN_MODEL
set -euo pipefail
bin=$1
gen=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
model=$dir/qwen2-tiny.gguf
"$gen" --preset qwen2-tiny --type f16 --seed 1 -o "$model" >"$dir/gen.log" 2>&1 || fail "gen-model: $(cat "$dir/gen.log")"
n=400

# Runs one answer into $dir/out; returns 0 when it ended before the token limit (the grammar
# completed), 1 when it was cut off.
answer() {
  local format=$1 seed=$2
  "$bin" run "$model" "Describe a person as JSON." --format "$format" --temp 1 --seed "$seed" -n $n --no-think \
    --verbose >"$dir/out" 2>"$dir/err" || fail "--format $format --seed $seed: exit $?: $(cat "$dir/err")"
  local count
  count=$(sed -n 's/^eval count: *\([0-9]*\).*/\1/p' "$dir/err")
  [ -n "$count" ] || fail "no eval count in --verbose output: $(cat "$dir/err")"
  [ "$count" -lt $n ]
}

# Any JSON object.
finished=0
for seed in 1 2 3; do
  if answer json $seed; then
    finished=$((finished + 1))
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert isinstance(d, dict), d' "$dir/out" ||
      fail "--format json --seed $seed: not a JSON object: $(cat "$dir/out")"
  fi
done
[ $finished -ge 1 ] || fail "--format json: no answer finished in $n tokens"

# A schema whose every value is bounded: all answers finish and validate.
cat >"$dir/person.json" <<'EOF'
{
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 8},
    "age": {"type": "integer", "minimum": 18, "maximum": 99},
    "role": {"enum": ["admin", "user", "guest"]},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "minItems": 1, "maxItems": 3},
    "active": {"type": "boolean"}
  },
  "required": ["name", "age", "role", "tags", "active"],
  "additionalProperties": false
}
EOF
for seed in 1 2 3; do
  answer "$dir/person.json" $seed || fail "--format person.json --seed $seed: not finished in $n tokens: $(cat "$dir/out")"
  python3 - "$dir/out" <<'EOF' || fail "--format person.json --seed $seed: off schema: $(cat "$dir/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"name", "age", "role", "tags", "active"}, d
assert isinstance(d["name"], str) and 1 <= len(d["name"]) <= 8, d["name"]
assert type(d["age"]) is int and 18 <= d["age"] <= 99, d["age"]
assert d["role"] in ("admin", "user", "guest"), d["role"]
assert isinstance(d["tags"], list) and 1 <= len(d["tags"]) <= 3, d["tags"]
assert all(isinstance(t, str) and len(t) <= 4 for t in d["tags"]), d["tags"]
assert isinstance(d["active"], bool), d["active"]
EOF
done

# Refusals: exit code and message.
refused() {
  local want=$1 pattern=$2 format=$3
  local out rc=0
  out=$("$bin" run "$model" "Hi" --format "$format" -n 4 2>&1) || rc=$?
  [ $rc -eq "$want" ] || fail "--format $format: exit $rc, want $want: $out"
  grep -q -- "$pattern" <<<"$out" || fail "--format $format: message lacks '$pattern': $out"
}
echo '{"type": "object", "properties": {"x": {"not": {}}}}' >"$dir/not.json"
refused 4 "unsupported JSON Schema keyword 'not' at /properties/x" "$dir/not.json"
refused 3 "cannot read '$dir/missing.json'" "$dir/missing.json"
echo '{"type": "object",' >"$dir/broken.json"
refused 2 "'$dir/broken.json' is not JSON" "$dir/broken.json"
echo "cli format: ok"
