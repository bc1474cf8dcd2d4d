#!/usr/bin/env bash
# Issue 4's scale target at d = 100:
# 1. training time against n = 10⁴, 3·10⁴, 10⁵, 3·10⁵, 10⁶ (logistic, per-sample λ = 1e-3,
#    σ = 10, output perturbation): OUT_DIR/training_curve.{csv,svg,png} and
#    OUT_DIR/training_curve.json with the least-squares line time = a + b·n;
# 2. peak memory of training and serving 10 removals at n = 10⁶ (no test set, no ridge run):
#    OUT_DIR/memory_1e6.json, whose peak_rss_over_data is peak RSS / (8·n·d bytes); the
#    target is ≤ 1.5 (plus O(d²)).
# Takes about 3 minutes on 2 cores and needs about 1 GB of memory.
# Usage: scripts/scale_curve.sh [OUT_DIR]   (run from the repository root)
set -euo pipefail
out=${1:-target/scale-curve}
mkdir -p "$out"
cargo build --release -q
bin=target/release/unlearn
"$bin" bench --curve 10000,30000,100000,300000,1000000 --d 100 --plot "$out" --json \
  > "$out/training_curve.json"
"$bin" bench --no-ridge --n 1000000 --d 100 --removals 10 --no-test-set --json \
  > "$out/memory_1e6.json"
cat "$out/training_curve.csv"
echo "fit: $(jq -c .fit "$out/training_curve.json")"
jq -c '{n, d, data_bytes, peak_rss_bytes, peak_rss_over_data, train_seconds, removal_seconds_median, retrain_seconds}' \
  "$out/memory_1e6.json"
