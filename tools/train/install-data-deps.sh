#!/usr/bin/env bash
# Debian packages needed to rebuild dsv4-mini's corpus, tokenizer and plots (not needed to
# build, test or run dsv4): WordNet, GCIDE, fortunes, python3-regex (the V4 pre-tokenizer
# regexes in the BPE trainer), python3-matplotlib (loss curve). torch/numpy: /usr/bin/python3.
set -euo pipefail
pkgs=(wordnet-base dict-gcide fortunes fortunes-min python3-regex python3-matplotlib python3-torch python3-numpy)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# The pre-tokenizer/decoder sections of tokenizer.json come from DeepSeek's own file (npm).
"$(dirname "$0")/../../tests/tokenizer/install-node-deps.sh"
