#!/usr/bin/env bash
# Rebuilds models/dsv4-mini from scratch: corpus -> tokenizer -> token ids -> training ->
# FP8/FP4 export -> reference check -> perplexity fixture -> loss plot.
#   tools/train/build_mini.sh [WORK_DIR] [MINUTES] [MINUTES_OF_SECOND_RUN]
# The shipped model: MINUTES 80, then a second 24-minute run from its weights at a third of
# the learning rate (models/README.md, "Training").
# Needs the dsv4 binary (scripts/build.sh) and tools/train/install-data-deps.sh.
# Training runs niced with 2 threads; everything is seeded (the training itself is
# time-budgeted, so its step count depends on the machine's speed).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-/tmp/dsv4-mini}
MINUTES=${2:-80}
MINUTES2=${3:-24}
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
  --batch 8 --seq 512 --lr 3e-3 --threads 1 --eval-every 50 --eval-windows 4
CKPT="$WORK/run/ckpt.pt"
if [ "$MINUTES2" != 0 ]; then
  nice -n 10 $PY tools/train/train.py --data "$WORK" --run "$WORK/run2" --minutes "$MINUTES2" \
    --batch 8 --seq 512 --lr 1e-3 --warmup 0.05 --threads 1 --eval-every 50 --eval-windows 4 \
    --init-from "$CKPT"
  CKPT="$WORK/run2/ckpt.pt"
fi
$PY tools/train/export.py --ckpt "$CKPT" --out "$OUT"
$PY tools/train/check_vs_reference.py --ckpt "$CKPT" --held "$WORK/held.json" -n 256
$PY tools/train/make_mini_fixture.py --model "$OUT" --held "$WORK/held.json" \
  --train "$WORK/train.json.npy" -n 320 --out tests/fixtures/mini
LOG="$WORK/run/log.csv"
if [ "$MINUTES2" != 0 ]; then
  LOG="$WORK/log-both.csv"
  $PY tools/train/join_logs.py "$WORK/run/log.csv" "$WORK/run2/log.csv" > "$LOG"
fi
$PY tools/train/plot_loss.py "$LOG" models/loss.png
cp "$LOG" models/dsv4-mini-train-log.csv
