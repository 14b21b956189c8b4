#!/usr/bin/env bash
# After scripts/train_pneumonia_1_2_0.sh: combine the two fine-tuned members, calibrate on
# val-calib (Platt + a threshold with a bootstrap margin + the heatmap scale), then measure once
# on val-test, which no choice has looked at, next to 1.1.0 recalibrated the same way.
#   RUNS=runs/m120 bash scripts/release_pneumonia_1_2_0.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/cxr}
RUNS=${RUNS:-runs/m120}
PY=${PY:-python}
OUT=$RUNS/release
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
radlens() { "$PY" -m viewer.cli "$@"; }
rm -rf "$OUT" && mkdir -p "$OUT/members"
for member in 0 1; do  # the trained folders without their checkpoints
  mkdir -p "$OUT/members/m$member"
  cp "$RUNS/member-$member"/{model.safetensors,card.json} "$OUT/members/m$member/"
done
radlens models --combine "$OUT/members/m0" "$OUT/members/m1" --out "$OUT/model" \
  --id pneumonia-cxr --name 'RadLens pediatric pneumonia CXR (2-model ensemble)' --version 1.2.0
radlens evaluate --model "$OUT/model" --data "$RUNS/val-split/calib" --calibrate \
  --threshold-margin --target-sensitivity 0.95 --heatmap-blocks ${HEATMAP_BLOCKS:--2} \
  --heatmap-smooth ${HEATMAP_SMOOTH:-0} --device cpu --json >"$OUT/calib.json"
radlens evaluate --model "$OUT/model" --data "$DATA/val" --write-reference --device cpu \
  --json >"$OUT/val-reference.json"
radlens evaluate --model "$OUT/model" --data "$RUNS/val-split/test" --device cpu \
  --robustness 68 --faithfulness 40 --out "$OUT/test" --json >"$OUT/test.json"
# 1.1.0, recalibrated on val-calib by the same rules, on the same held-out half
mkdir -p "$OUT/v110"
cp resources/models/pneumonia-cxr/{card.json,member-0.safetensors,member-1.safetensors} "$OUT/v110/"
radlens evaluate --model "$OUT/v110" --data "$RUNS/val-split/calib" --calibrate \
  --threshold-margin --target-sensitivity 0.95 --heatmap-blocks ${HEATMAP_BLOCKS:--2} \
  --heatmap-smooth ${HEATMAP_SMOOTH:-0} --device cpu --json >"$OUT/v110-calib.json"
radlens evaluate --model "$OUT/v110" --data "$RUNS/val-split/test" --device cpu \
  --robustness 68 --faithfulness 40 --out "$OUT/v110-test" --json >"$OUT/v110-test.json"
echo "release candidate in $OUT/model; figures in $OUT/*.json"
