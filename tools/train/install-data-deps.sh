#!/usr/bin/env bash
# Debian packages needed to rebuild dsv4-mini's corpus, tokenizer and plots (not needed to
# build, test or run dsv4): WordNet, GCIDE, fortunes, python3-regex (the V4 pre-tokenizer
# regexes in the BPE trainer), python3-matplotlib (loss curve). torch/numpy: /usr/bin/python3.
# libopenblas0-openmp: Debian's python3-torch calls the system libblas.so.3, which is the
# reference BLAS (~2 GFLOP/s) unless OpenBLAS provides it through update-alternatives;
# with OpenBLAS a dsv4-mini training step is ~35x faster (measured: 20 s -> 0.58 s for 2x512).
set -euo pipefail
pkgs=(wordnet-base dict-gcide fortunes fortunes-min tzdata python3-regex python3-matplotlib python3-torch python3-numpy libopenblas0-openmp)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# The pre-tokenizer/decoder sections of tokenizer.json come from DeepSeek's own file (npm).
"$(dirname "$0")/../../tests/tokenizer/install-node-deps.sh"
