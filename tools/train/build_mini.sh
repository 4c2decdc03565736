#!/usr/bin/env bash
# Rebuilds models/dsv4-mini from scratch: corpus -> tokenizer -> token ids -> training ->
# FP8/FP4 export -> reference check -> perplexity fixture -> loss plot.
#   tools/train/build_mini.sh [WORK_DIR] [MINUTES]
# Needs the dsv4 binary (scripts/build.sh) and tools/train/install-data-deps.sh.
# Training runs niced with 2 threads; everything is seeded (the training itself is
# time-budgeted, so its step count depends on the machine's speed).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-/tmp/dsv4-mini}
MINUTES=${2:-75}
PY=/usr/bin/python3
DSV4=build/apps/dsv4/dsv4
OUT=models/dsv4-mini
tools/train/install-data-deps.sh
mkdir -p "$WORK" "$OUT"
$PY tools/train/make_data.py --out "$WORK/data"
$PY tools/train/train_tokenizer.py --docs "$WORK/data/docs.jsonl" --vocab 4096 --out "$OUT"
$PY tools/train/check_chat_render.py --dsv4 "$DSV4" --tokenizer "$OUT" -n 40
$DSV4 tokenize --tokenizer "$OUT" --file "$WORK/data/train.txt" --json > "$WORK/train.json"
$DSV4 tokenize --tokenizer "$OUT" --file "$WORK/data/heldout.txt" --json > "$WORK/held.json"
nice -n 10 $PY tools/train/train.py --data "$WORK" --run "$WORK/run" --minutes "$MINUTES" \
  --batch 2 --seq 512 --lr 3e-3 --eval-every 50 --eval-windows 2
$PY tools/train/export.py --ckpt "$WORK/run/ckpt.pt" --out "$OUT"
$PY tools/train/check_vs_reference.py --ckpt "$WORK/run/ckpt.pt" --held "$WORK/held.json" -n 256
$PY tools/train/make_mini_fixture.py --model "$OUT" --held "$WORK/held.json" \
  --train "$WORK/train.json.npy" -n 320 --out tests/fixtures/mini
$PY tools/train/plot_loss.py "$WORK/run/log.csv" models/loss.png
cp "$WORK/run/log.csv" models/dsv4-mini-train-log.csv
