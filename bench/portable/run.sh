#!/bin/bash
# DIR/run.sh, made by bench/portable/pack.sh: the benchmarks on this machine, from builds
# made on another. Run it from the repository's working tree (bash DIR/run.sh); output goes
# to $OUT (or /tmp/portable-out): log.txt, lscpu.txt, bench.jsonl (each dsv4 bench JSON as
# {"run", "threads", "line"}), decode_profile.txt, machine_probe.txt, and compare.jsonl in
# bench/llama_cpp/compare.sh's format (summarised at the end by its summarize.py).
#   1. the checkpoint (dsv4 bench generates it under $XDG_CACHE_HOME, /tmp/cache here);
#   2. the issue's command, `dsv4 bench --prefill 512,4096 --batch 1,4,16 --steps 8
#      --repeats 2 --json`, with every core;
#   3. batch 1 at 2, 4, 8, ... threads;
#   4. decode_profile (each product of a batch-1 step), then machine_probe (the best read
#      bandwidth against the copy figure the roofline divides by);
#   5. dsv4 against llama.cpp, ROUNDS rounds (default 1) of compare.sh's commands
#      (bench/llama_cpp/rounds.sh), when the packed llama.cpp build's instruction sets are
#      all here.
# QUICK=1: tiny shapes (a dry run of the script). GGUF=path: an existing GGUF file.
set -u
D=$(cd "$(dirname "$0")" && pwd)
O=${OUT:-/tmp/portable-out}
mkdir -p "$O"
exec > >(tee "$O/log.txt") 2>&1
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/cache}
threads=$(nproc)
rounds=${ROUNDS:-1}
date -u; lscpu > "$O/lscpu.txt"; head -20 "$O/lscpu.txt"; free -g
[ -f bench/llama_cpp/to_gguf.py ] || { echo "run from the repository's working tree" >&2; exit 2; }

libs=$D/lib
dsv4() { LD_LIBRARY_PATH=$libs "$D/bin/dsv4" "$@"; }
if ! dsv4 --help >/dev/null 2>"$O/dsv4_start.err" && grep -q "GLIBCXX\|error while loading" "$O/dsv4_start.err"; then
  cat "$O/dsv4_start.err"; libs=$D/lib:$D/libcxx; echo "with the packed libstdc++"
fi
record() { sed "s/^/{\"run\":\"$1\",\"threads\":$2,\"line\":/; s/\$/}/" >> "$O/bench.jsonl"; }
: > "$O/bench.jsonl"
if [ "${QUICK:-0}" = 1 ]; then P=16; B=1,4; S=2; REP=1; else P=512,4096; B=1,4,16; S=8; REP=2; fi

t=$SECONDS
dsv4 bench --json --prefill 16 --batch 1 --steps 1 | record warm "$threads"
echo "checkpoint and a first bench: $((SECONDS - t)) s"
t=$SECONDS
dsv4 bench --prefill $P --batch $B --steps $S --repeats $REP --json | record issue "$threads"
echo "the issue's command, $threads threads: $((SECONDS - t)) s"
for n in 2 4 8 16 32 64 128; do
  [ "$n" -lt "$threads" ] || break
  DSV4_THREADS=$n dsv4 bench --prefill 16 --batch 1 --steps 16 --json | record b1 "$n"
done
t=$SECONDS
LD_LIBRARY_PATH=$libs "$D/bin/decode_profile" --steps 8 --reps 2 > "$O/decode_profile.txt" 2>&1
grep -v '^{' "$O/decode_profile.txt" | tail -4 | cut -c1-300
echo "decode_profile: $((SECONDS - t)) s"
LD_LIBRARY_PATH=$libs "$D/bin/machine_probe" > "$O/machine_probe.txt" 2>&1
grep -E "copy|best read" "$O/machine_probe.txt"

L=$D/llama
[ -x "$L/llama-bench" ] || { echo "no llama.cpp in $D: done"; exit 0; }
have=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
for f in $(cat "$L/built_for_flags"); do
  case $f in
    avx|avx2|fma|f16c|bmi2|avx512f|avx512bw|avx512vl|avx512vbmi|avx512_vnni|avx512_bf16|avx_vnni)
      [[ "$have" == *" $f "* ]] || { echo "this CPU lacks $f, which the packed llama.cpp uses: done"; exit 0; } ;;
  esac
done
gguf=${GGUF:-/tmp/bench.gguf}
if [ ! -f "$gguf" ]; then
  t=$SECONDS
  python3 bench/llama_cpp/to_gguf.py "$D/gguf-py" "$XDG_CACHE_HOME/dsv4/bench-v4-flash-2l" \
    models/dsv4-mini/tokenizer.json "$gguf" 2>&1 | tail -1
  echo "GGUF: $((SECONDS - t)) s"
fi
cmp=$O/compare.jsonl
: > "$cmp"
t=$SECONDS
bash bench/llama_cpp/rounds.sh "$rounds" "$threads" "$gguf" "$L" "$cmp" "$O/llama.err" "$P" "$B" -- \
  env LD_LIBRARY_PATH="$libs" "$D/bin/dsv4"
echo "$rounds round(s): $((SECONDS - t)) s"
python3 bench/llama_cpp/summarize.py "$cmp"
