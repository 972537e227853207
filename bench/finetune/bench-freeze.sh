#!/bin/sh
# What freezing saves per training step (docs/accuracy.md, "Fine-tuning"): specs/fashion-cnn.dnn's
# network (conv32-BN-ReLU-pool, conv64-BN-ReLU-pool, dense128, dense10; batch 64) trained for
# STEPS steps on specs/data/fashion-mnist-small, wasm backend, one thread: nothing frozen, the
# convolutional body frozen, everything but the head frozen. Prints samples per second of each
# (the trainer's --bench "done" line: training seconds, compile and data loading excluded), ROUNDS
# times in turn. From the repository root: sh bench/finetune/bench-freeze.sh [STEPS] [ROUNDS]
set -e
STEPS=${1:-150}
ROUNDS=${2:-2}
ROOT=$(pwd)
T=$(mktemp -d)
sed 's/^  epochs 20$/  epochs 1/' specs/fashion-cnn.dnn | sed "s#idx(\"data/fashion-mnist-small\")#idx(\"$ROOT/specs/data/fashion-mnist-small\")#" > "$T/none.dnn"
awk '{print} /^  schedule cosine$/ {print "  freeze conv2d_0 to bn_1"}' "$T/none.dnn" > "$T/body.dnn"
awk '{print} /^  schedule cosine$/ {print "  freeze conv2d_0 to dense_0"}' "$T/none.dnn" > "$T/probe.dnn"
for s in none body probe; do node bin/dnnc.mjs compile "$T/$s.dnn" --out "$T/$s" > /dev/null; done
for r in $(seq "$ROUNDS"); do
  for s in none body probe; do
    printf '%s ' "$s"
    node "$T/$s"/*.trainer.mjs --max-steps "$STEPS" --bench --backend wasm --threads 1 | grep '"done"' | node -e "
      const d = JSON.parse(require('fs').readFileSync(0, 'utf8')); console.log((($STEPS * 64) / d.seconds).toFixed(0) + ' samples/s (' + d.seconds.toFixed(2) + ' s)')"
  done
done
rm -rf "$T"
