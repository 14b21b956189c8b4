#!/usr/bin/env bash
# After scripts/train_pneumonia.sh: combine the two fine-tuned members into a release candidate,
# in two phases so that no choice ever looks at val-test:
#   RUNS=runs/m130 bash scripts/release_pneumonia.sh candidate
#     combine, calibrate on val-calib (Platt + a threshold with a bootstrap margin + the heatmap
#     scale), then robustness and the deletion test on val-calib: the figures candidates are
#     compared and chosen on (with those of the shipped model, calibrated the same way);
#   RUNS=runs/m130 bash scripts/release_pneumonia.sh test
#     the chosen candidate once on val-test, the reference subset on val, and the paired AUC
#     difference against the model it replaces (COMPARE_TEST: that model's val-test per_image.csv).
# 1.2.0 was released by the same steps (from 1.1.0, 1.1.0 recalibrated on val-calib as the peer).
set -euo pipefail
cd "$(dirname "$0")/.."
PHASE=${1:?candidate or test}
DATA=${DATA:-../shared/data/cxr}
RUNS=${RUNS:-runs/m130}
PY=${PY:-python}
VERSION=${VERSION:-1.3.0}
HEATMAP_BLOCKS=${HEATMAP_BLOCKS:--3 -4}
HEATMAP_SMOOTH=${HEATMAP_SMOOTH:-0.01}
OUT=$RUNS/release
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
radlens() { "$PY" -m viewer.cli "$@"; }
calibrate() {  # MODEL JSON: fit calibration, threshold and heatmap scale on val-calib
  radlens evaluate --model "$1" --data "$RUNS/val-split/calib" --calibrate --threshold-margin \
    --target-sensitivity 0.95 --heatmap-blocks $HEATMAP_BLOCKS --heatmap-smooth "$HEATMAP_SMOOTH" \
    --device cpu --json >"$2"
}
checks() {  # MODEL NAME: robustness (67 per class) + deletion test (40 positives) on val-calib
  radlens evaluate --model "$1" --data "$RUNS/val-split/calib" --device cpu --robustness 67 \
    --faithfulness 40 --out "$OUT/$2" --json >"$OUT/$2.json"
}
if [ "$PHASE" = candidate ]; then
  rm -rf "$OUT" && mkdir -p "$OUT/members"
  for member in 0 1; do  # the trained folders without their checkpoints
    mkdir -p "$OUT/members/m$member"
    cp "$RUNS/member-$member"/{model.safetensors,card.json} "$OUT/members/m$member/"
  done
  radlens models --combine "$OUT/members/m0" "$OUT/members/m1" --out "$OUT/model" \
    --id pneumonia-cxr --name 'RadLens pediatric pneumonia CXR (2-model ensemble)' \
    --version "$VERSION"
  calibrate "$OUT/model" "$OUT/calib.json"
  checks "$OUT/model" calib-checks
  mkdir -p "$OUT/shipped"  # the model it would replace, recalibrated by the same rules
  cp resources/models/pneumonia-cxr/{card.json,member-0.safetensors,member-1.safetensors} "$OUT/shipped/"
  calibrate "$OUT/shipped" "$OUT/shipped-calib.json"
  checks "$OUT/shipped" shipped-calib-checks
  echo "candidate in $OUT/model; val-calib figures in $OUT/calib-checks.json and $OUT/shipped-calib-checks.json"
elif [ "$PHASE" = test ]; then
  radlens evaluate --model "$OUT/model" --data "$DATA/val" --write-reference --device cpu \
    --json >"$OUT/val-reference.json"
  radlens evaluate --model "$OUT/model" --data "$RUNS/val-split/test" --device cpu \
    --robustness 68 --faithfulness 40 --out "$OUT/test" --json >"$OUT/test.json"
  if [ -n "${COMPARE_TEST:-}" ]; then
    "$PY" scripts/compare_models.py "$OUT/test/per_image.csv" "$COMPARE_TEST" >"$OUT/test-vs-shipped.json"
  fi
  echo "held-out figures in $OUT/test.json"
else
  echo "unknown phase $PHASE (candidate or test)" >&2
  exit 2
fi
