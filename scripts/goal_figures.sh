#!/usr/bin/env bash
# Issue 3 goal figures on the embedded digits 3-vs-8: removals served before retraining and
# test accuracy after 100 removals, for Guo et al.'s accounting (guo2020, σ = 10, ε = 1,
# δ = 1e-4, per-sample λ = 1e-3) and for the sound default (output-perturbation, same ε, δ,
# λ; σ calibrated for a weight-distance budget ε′ = 0.01). Needs python3 (standard library).
# Usage: scripts/goal_figures.sh [OUT_DIR]   (run from the repository root)
set -euo pipefail
out=${1:-target/goal-figures}
mkdir -p "$out"
cargo build --release -q
bin=target/release/unlearn
python3 - "$out" <<'PY'
import csv, sys
out = sys.argv[1]
rows = [r for r in csv.DictReader(open('crates/unlearn/data/digits.csv')) if r['digit'] in ('3', '8')]
fields = list(rows[0].keys())
train = [r for i, r in enumerate(rows) if i % 5 != 0]
test = [r for i, r in enumerate(rows) if i % 5 == 0]
for name, part in (('train', train), ('test', test)):
    with open(f'{out}/{name}.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=fields); w.writeheader(); w.writerows(part)
# 100 removal requests spread over the training rows (every other row), in file order.
open(f'{out}/ids.txt', 'w').write('\n'.join(r['id'] for r in train[::2][:100]) + '\n')
# The retrained reference: the training rows without the removed ones.
removed = {r['id'] for r in train[::2][:100]}
with open(f'{out}/remaining.csv', 'w', newline='') as f:
    w = csv.DictWriter(f, fieldnames=fields); w.writeheader()
    w.writerows(r for r in train if r['id'] not in removed)
PY
common=(--target digit --id id --loss logistic --positive 8 --lambda 1e-3
        --regularization per-sample --scale 0.0078125 --clip-norm 1 --epsilon 1 --delta 1e-4)
run() {  # name, extra train flags...
  local name=$1; shift
  rm -rf "$out/$name.store" "$out/$name-retrained.store"
  $bin train --data "$out/train.csv" "${common[@]}" "$@" --seed 11 --out "$out/$name.store" >/dev/null
  $bin remove --store "$out/$name.store" --ids-file "$out/ids.txt" --sequential --json > "$out/$name.jsonl"
  $bin verify --store "$out/$name.store" >/dev/null
  $bin train --data "$out/remaining.csv" "${common[@]}" "$@" --seed 12 --out "$out/$name-retrained.store" >/dev/null
  local unl ret
  unl=$($bin evaluate --store "$out/$name.store" --data "$out/test.csv" --json)
  ret=$($bin evaluate --store "$out/$name-retrained.store" --data "$out/test.csv" --json)
  python3 - "$out/$name.jsonl" "$name" "$unl" "$ret" <<'PY'
import json, sys
path, name, unl, ret = sys.argv[1:]
cs = [json.loads(l) for l in open(path)]
retrains = [i for i, c in enumerate(cs) if c['retrained']]
print(json.dumps({
    'mechanism': name, 'sigma': cs[0]['sigma'], 'budget': cs[0]['budget'],
    'budget_unit': cs[0]['budget_unit'], 'removals': len(cs),
    'removals_before_first_retraining': retrains[0] if retrains else len(cs),
    'retrainings': len(retrains), 'certified': all(c['certified'] for c in cs),
    'max_step_data_dependent_bound': max(max(c['bounds']['data_dependent']) for c in cs),
    'max_step_exact_residual': max(max(c['bounds']['exact_residual']) for c in cs),
    'test_accuracy_unlearned': json.loads(unl)['accuracy'],
    'test_accuracy_retrained': json.loads(ret)['accuracy'],
}))
PY
}
run guo2020 --mechanism guo2020 --sigma 10
run output-perturbation --mechanism output-perturbation --budget 0.01
