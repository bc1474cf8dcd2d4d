#!/usr/bin/env bash
# Side-by-side training time, unlearn vs scikit-learn, on the same seeded synthetic data
# (n = 12,000, d = 784, rows of norm ≤ 1, per-sample λ = 1e-3, no intercept, σ = 0).
# Needs a Python with scikit-learn (see scripts/sklearn_train_bench.py for the venv).
# Usage: scripts/compare_training.sh [PYTHON] [N] [D]   (run from the repository root)
set -euo pipefail
python=${1:-python3}
n=${2:-12000}
d=${3:-784}
out=target/compare-training
mkdir -p "$out"
cargo build --release -q
bin=target/release/unlearn
$bin synth --n "$n" --d "$d" --seed 1 --out "$out/synth.csv" 2>/dev/null
echo "scikit-learn (lbfgs, tol 1e-10, best of 3):"
"$python" scripts/sklearn_train_bench.py "$out/synth.csv" --lambda 1e-3 --repeat 3
echo "unlearn (Newton, ‖∇L‖ ≤ 1e-10, three runs; train_seconds excludes CSV parsing):"
for run in 1 2 3; do
  rm -rf "$out/store"
  $bin train --data "$out/synth.csv" --target y --loss logistic --lambda 1e-3 \
      --regularization per-sample --no-intercept --sigma 0 --out "$out/store" --json \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"run": '"$run"', "train_seconds": d["train_seconds"], "newton_iterations": d["newton_iterations"], "gradient_norm": d["training_gradient_norms"][0]}))'
done
