#!/bin/bash
# bench/portable/pack.sh DIR
#
# Packs what the benchmarks need to run on another x86-64 Linux machine that cannot build
# this repository or reach a network (a lent machine with more cores): the built `dsv4`,
# `decode_profile` and `machine_probe` with the shared libraries they load, and, where
# bench/llama_cpp/compare.sh has built them here, llama.cpp's `llama-bench` /
# `llama-batched-bench` with their libraries and that release's `gguf-py`. DIR then holds
# run.sh, which runs everything there from inside the repository's working tree (it needs
# bench/llama_cpp/to_gguf.py, tools/reference/formats.py and
# models/dsv4-mini/tokenizer.json beside it). Build first (scripts/build.sh).
# The C library and libstdc++ are the other machine's (libstdc++ is packed aside, in
# DIR/libcxx, for a machine whose own is older); llama.cpp's build targets this machine's
# instruction sets, so run.sh skips it where the other CPU lacks one of them.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=$1
llama=${XDG_CACHE_HOME:-$HOME/.cache}/dsv4/llama-cpp
for b in apps/dsv4/dsv4 bench/decode_profile bench/machine_probe; do
  [ -x "$repo/build/$b" ] || { echo "$repo/build/$b is missing: build first (scripts/build.sh)" >&2; exit 1; }
done
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/lib" "$dir/libcxx"
# Every library a program loads, but the C library's own and libstdc++ (packed aside).
copy_libs() {
  ldd "$1" | awk '/=> \// {print $3}' | while read -r lib; do
    case $(basename "$lib") in
      libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libgcc_s.so.*|ld-linux*) ;;
      libstdc++.so.*) cp -L "$lib" "$dir/libcxx/" ;;
      *) cp -L "$lib" "$2/" ;;
    esac
  done
}
for b in apps/dsv4/dsv4 bench/decode_profile bench/machine_probe; do
  cp "$repo/build/$b" "$dir/bin/"
  strip "$dir/bin/$(basename "$b")"
  copy_libs "$repo/build/$b" "$dir/lib"
done
if [ -x "$llama/build/bin/llama-batched-bench" ] && [ -d "$llama/src/gguf-py" ]; then
  mkdir -p "$dir/llama"
  cp -a "$llama/build/bin/." "$dir/llama/"
  for b in llama-bench llama-batched-bench; do copy_libs "$dir/llama/$b" "$dir/llama"; done
  cp -a "$llama/src/gguf-py" "$dir/gguf-py"
  find "$dir/gguf-py" -name __pycache__ -prune -exec rm -rf {} +
  grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2 > "$dir/llama/built_for_flags"
else
  echo "no llama.cpp build under $llama (bench/llama_cpp/compare.sh makes one): packing dsv4 only" >&2
fi
cp "$here/run.sh" "$dir/run.sh"
du -sh "$dir"
