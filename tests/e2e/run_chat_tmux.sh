#!/usr/bin/env bash
# Drives `pocketlm run` interactively in tmux, as a person would: types a message, reads the
# streamed answer off the screen, sends a second turn, and checks from --verbose that the second
# turn evaluated only its new tokens (the KV cache kept the first turn). Also checks that Ctrl-C
# stops an answer without ending the session, and that /bye exits.
# Usage: run_chat_tmux.sh POCKETLM_BIN MODEL
set -euo pipefail
bin=$1
model=$2
session="pocketlm-e2e-$$"
export TERM=${TERM:-xterm-256color}
screen() { tmux capture-pane -p -t "$session" -S -200; }
wait_for() {  # wait_for REGEX COUNT: until the screen shows REGEX at least COUNT times
  for _ in $(seq 1 600); do  # up to 60 s: CI runs other tests beside this one
    if [ "$(screen | grep -cE "$1" || true)" -ge "$2" ]; then return 0; fi
    sleep 0.1
  done
  echo "FAIL: timed out waiting for /$1/ x$2; screen:"; screen; exit 1
}
cleanup() { tmux kill-session -t "$session" 2>/dev/null || true; }
trap cleanup EXIT

tmux new-session -d -s "$session" -x 200 -y 60 "$bin run $model --temp 0 -n 24 --verbose -t 1 -c 2048; sleep 30"
wait_for '^>>>' 1
tmux send-keys -t "$session" 'Once upon a time' Enter
wait_for '^eval rate' 1
screen | grep -q 'there was a little girl named Lily' || { echo "FAIL: no streamed story"; screen; exit 1; }
first=$(screen | grep -E '^prompt eval count' | sed -n 1p | grep -oE '[0-9]+' | head -1)

tmux send-keys -t "$session" ' She was happy.' Enter
wait_for '^eval rate' 2
second=$(screen | grep -E '^prompt eval count' | sed -n 2p | grep -oE '[0-9]+' | head -1)
echo "first turn evaluated $first prompt tokens, second turn $second"
# The second turn's new text is ~5 tokens; everything before it (turn one and its reply,
# 30 tokens) must have come from the cache.
[ "$first" -ge 5 ] && [ "$second" -le 8 ] || { echo "FAIL: prefix not reused"; screen; exit 1; }

# Ctrl-C mid-answer stops it and the prompt comes back.
tmux send-keys -t "$session" '/set parameter num_predict 100000' Enter
wait_for "Set parameter 'num_predict'" 1
tmux send-keys -t "$session" '/clear' Enter
wait_for 'Cleared session context' 1
tmux send-keys -t "$session" 'Once upon a time' Enter
sleep 0.3
tmux send-keys -t "$session" C-c
wait_for '^eval rate' 3
wait_for '^>>>' 5
third=$(screen | grep -E '^eval count' | sed -n 3p | grep -oE '[0-9]+' | head -1)
echo "interrupted answer stopped after $third tokens"
[ "$third" -lt 1500 ] || { echo "FAIL: Ctrl-C did not stop the answer"; screen; exit 1; }
tmux send-keys -t "$session" '/bye' Enter
for _ in $(seq 1 50); do
  tmux list-panes -t "$session" -F '#{pane_current_command}' 2>/dev/null | grep -q pocketlm || break
  sleep 0.1
done
if tmux list-panes -t "$session" -F '#{pane_current_command}' 2>/dev/null | grep -q pocketlm; then
  echo "FAIL: /bye did not exit"; screen; exit 1
fi
echo "PASS"
