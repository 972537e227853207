#!/bin/sh
# The fine-tuning experiment of docs/accuracy.md, from the repository root:
#   sh bench/finetune/run-all.sh
# (Fashion-MNIST in /usr/share/datasets/fashion-mnist, or set FMNIST). Writes bench/finetune/runs/.
set -e
cd "$(dirname "$0")"
DNNC="node ../../bin/dnnc.mjs"
node split-classes.mjs "${FMNIST:-/usr/share/datasets/fashion-mnist}" data 20 100 500
[ -f runs/base/model.safetensors ] || $DNNC train base.dnn --out runs/base --no-report
for n in 20 100 500; do
  for s in scratch finetune finetune-probe finetune-all; do
    [ -f runs/$s-$n/model.safetensors ] || $DNNC train $s.dnn --data data/new$n --out runs/$s-$n --no-report
  done
done
