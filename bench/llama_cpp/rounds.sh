#!/bin/bash
# bench/llama_cpp/rounds.sh ROUNDS THREADS GGUF LLAMA_BIN OUT LOG PREFILL BATCHES -- DSV4...
#
# The rounds of dsv4 against llama.cpp (compare.sh here, portable/run.sh on another
# machine), the two engines alternating round by round, each with THREADS threads:
#   llama-bench          -p PREFILL (prefill tok/s), -n 16 -d 64 (decode after 64 tokens)
#   llama-batched-bench  -npp 64 -ntg 8 -npl BATCHES (aggregate decode of each batch)
#   DSV4 bench --prefill PREFILL --batch BATCHES --steps 8 --context 64 --json
# LLAMA_BIN holds llama-bench and llama-batched-bench (and their libraries); DSV4... is
# the command that runs dsv4 (a path, or `env LD_LIBRARY_PATH=... path`). Appends one JSON
# line per result to OUT ({"round", "tool", "line": the tool's own JSON}) and the engines'
# stderr to LOG; bench/llama_cpp/summarize.py OUT prints the medians.
set -euo pipefail
[ $# -ge 10 ] && [ "$9" = -- ] || { echo "usage: $0 ROUNDS THREADS GGUF LLAMA_BIN OUT LOG PREFILL BATCHES -- DSV4..." >&2; exit 2; }
rounds=$1 threads=$2 gguf=$3 bin=$4 out=$5 log=$6 prefill=$7 batches=$8
shift 9
llama() { LD_LIBRARY_PATH=$bin "$bin/$1" "${@:2}"; }
wrap() { sed "s/^/{\"round\":$1,\"tool\":\"$2\",\"line\":/; s/\$/}/" >> "$out"; }
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: llama-bench" >&2
  llama llama-bench -m "$gguf" -t "$threads" -p "$prefill" -n 0 -r 1 -o jsonl 2>>"$log" | wrap "$r" llama-bench
  llama llama-bench -m "$gguf" -t "$threads" -p 0 -n 16 -d 64 -r 1 -o jsonl 2>>"$log" | wrap "$r" llama-bench
  echo "round $r/$rounds: llama-batched-bench" >&2
  llama llama-batched-bench -m "$gguf" -t "$threads" -tb "$threads" -c 2048 -b 512 -ub 512 \
    -npp 64 -ntg 8 -npl "$batches" --output-format jsonl 2>>"$log" | grep '^{' | wrap "$r" llama-batched-bench
  echo "round $r/$rounds: dsv4 bench" >&2
  "$@" bench --prefill "$prefill" --batch "$batches" --steps 8 --context 64 --json 2>>"$log" | wrap "$r" dsv4
done
