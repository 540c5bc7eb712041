#!/usr/bin/env bash
# The proof of `xbench ab` on this machine (docs/ab.md): 10 A/A runs of the gate's benchmark
# set (this revision against itself) alternating with 10 runs whose NEW side makes torch's
# AdamW steps do more work (results/ab/inject: fused +10%, foreach +5%, for-loop +3%), all
# at the gate's settings. Each run's JSON goes to results/ab/proof/; `xbench ab` exits 1 on a
# regression, which is expected for the injected runs.
# Usage: bash results/ab/proof.sh [RUNS]   (from the checkout; about 7 minutes per A/A + injected pair)
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
settings=(--gate --pairs 8 --time-budget 180)
for i in $(seq -w 1 "$runs"); do
    .venv/bin/python -m xbench ab HEAD HEAD "${settings[@]}" --seed "$i" \
        --json "results/ab/proof/aa-$i.json"
    .venv/bin/python -m xbench ab .venv/bin/python results/ab/inject/python "${settings[@]}" \
        --seed "$i" --json "results/ab/proof/inject-$i.json"
done
