#!/usr/bin/env bash
# Greedy outputs of a model for the model card (models/README.md): text continuations and
# chat answers through `dsv4 run` (the serving engine).
#   tools/train/card_samples.sh [MODEL_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:-models/dsv4-mini}
run() {
  echo "\$ dsv4 run $*"
  build/apps/dsv4/dsv4 run --model "$MODEL" --temperature 0 "$@" 2>&1 | sed 's/^/    /'
  echo
}
run -p "Once upon a time" -n 160
run -p "Max the dog found a red ball in the park." -n 120
run -p "A dream will always" -n 40
run -p "apple (noun):" -n 40
run -p "The weather in Paris" -n 40
run -p "Hello" --chat --no-think -n 60
run -p "Who are you?" --chat --no-think -n 60
run -p "What does \"river\" mean?" --chat --no-think -n 60
run -p "What is 12 + 7?" --chat --think -n 80
run -p "Tell me a quote." --chat --no-think -n 80
run -p "Tell me a story about a cat named Pip." --chat --no-think -n 250
run -p "Tell me a story about Tom the frog." --chat --think -n 300
