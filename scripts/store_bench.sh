#!/usr/bin/env bash
# Durable deletion throughput of the SQLite store (issue 11 targets: ≥ 300 requests/s at
# 20,000 × 100, ≥ 100/s at 12,000 × 784), through `unlearn serve-requests`, one request at a
# time, each acknowledged only after its transaction committed. Per problem, two runs on one
# store: the default (the WAL checkpointed after every deletion: removed rows' bytes leave
# the disk before the request is reported) and --checkpoint-every 100. Prints one JSON line
# per run (scripts/store_bench.py) and verifies each store afterwards.
#
# usage: scripts/store_bench.sh [WORKDIR]   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
cargo build --release -q -p unlearn-cli
unlearn="$PWD/target/release/unlearn"
run() { # n d requests
    local n=$1 d=$2 requests=$3
    local csv="$work/synth-$n-$d.csv" store="$work/store-$n-$d"
    "$unlearn" synth --n "$n" --d "$d" --seed 1 --out "$csv" 2>/dev/null
    # Guo et al.'s regime (λ = 1e-3 per sample), a release every 100 requests (the publish
    # policy: requests in between are served on the secret state and durable all the same).
    "$unlearn" train --data "$csv" --target y --loss logistic --lambda 1e-3 \
        --regularization per-sample --clip-norm 1 --epsilon 1 --delta 1e-5 --budget 0.1 \
        --publish-every 100 --force --out "$store" >/dev/null
    echo "{\"n\": $n, \"d\": $d, \"checkpoint_every\": 1, \"result\": $(python3 scripts/store_bench.py "$unlearn" "$store" "$requests" 0)}"
    echo "{\"n\": $n, \"d\": $d, \"checkpoint_every\": 100, \"result\": $(python3 scripts/store_bench.py "$unlearn" "$store" "$requests" "$requests" --checkpoint-every 100)}"
    "$unlearn" verify --store "$store" >/dev/null
}
run 20000 100 2000
run 12000 784 1000
