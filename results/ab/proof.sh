#!/usr/bin/env bash
# The proof of `xbench ab` on this machine (docs/ab.md), in the gate's own configuration
# (BASE a git revision, extracted; NEW this checkout under an interpreter): 10 A/A runs of the
# gate's benchmark set (HEAD against this checkout of it) alternating with 10 runs whose NEW
# side makes torch's AdamW steps do more work (results/ab/inject: fused +16%, foreach +6%,
# for-loop +4% extra steps; calibration.json, written first, has the slowdown each causes),
# all at the gate's settings. Each run's JSON goes to results/ab/proof/; `xbench ab` exits 1
# on a regression, which is expected for the injected runs. Run it on a quiet machine.
# Usage: bash results/ab/proof.sh [RUNS]   (from the checkout; about 12 minutes per A/A + injected pair, 2 hours for 10)
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
[ -e results/ab/proof/calibration.json ] || results/ab/inject/python \
    results/ab/inject/calibrate.py --rounds 800 --json results/ab/proof/calibration.json
settings=(--gate --pairs 8 --time-budget 180)
for i in $(seq -w 1 "$runs"); do
    .venv/bin/python -m xbench ab HEAD .venv/bin/python "${settings[@]}" --seed "$i" \
        --json "results/ab/proof/aa-$i.json"
    .venv/bin/python -m xbench ab HEAD results/ab/inject/python "${settings[@]}" \
        --seed "$i" --json "results/ab/proof/inject-$i.json"
done
