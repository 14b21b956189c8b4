#!/usr/bin/env bash
# Fine-tune the two networks of pneumonia-cxr 1.1.0 into 1.2.0 (acquisition-robust augmentation
# + clean/degraded consistency), on CPU in the background, resumable: run it again after a stop
# and each member continues from its last per-epoch checkpoint (--resume).
#   RUNS=runs/m120 bash scripts/train_pneumonia_1_2_0.sh
# The val split is divided by patient first: val-calib (monitoring during training, then
# calibration + threshold) and val-test (never used for any choice: the held-out figures).
# History of the shipped run: epochs 1-2 ran without the heavy-blur degradation (AugmentConfig
# heavy_blur_p = 0, i.e. the code before commit "heavy blur"); both members were then stopped
# after epoch 2 and resumed with this script (heavy_blur_p 0.2) for epochs 3-4.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/cxr}
RUNS=${RUNS:-runs/m120}
PY=${PY:-python}
EPOCHS=${EPOCHS:-4}
EPOCH_IMAGES=${EPOCH_IMAGES:-1200}  # 4 x 1,200 ≈ one pass over the 4,686 train images
mkdir -p "$RUNS"
"$PY" -m inference.splits "$DATA" "$RUNS/val-split" --split val --parts calib=0.5 test=0.5 --seed 11
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=${THREADS_PER_MEMBER:-1}
for member in ${MEMBERS:-0 1}; do
  nohup "$PY" -m viewer.cli train --data "$DATA/train" --val "$RUNS/val-split/calib" \
    --out "$RUNS/member-$member" --init resources/models/pneumonia-cxr --init-member "$member" \
    --epochs "$EPOCHS" --epoch-images "$EPOCH_IMAGES" --lr 5e-4 --consistency 0.1 --select last --seed "$((member + 20))" \
    --id "pneumonia-cxr-m$member" --name "RadLens pediatric pneumonia CXR (member $member)" \
    --version 1.2.0 --card-extra resources/models/pneumonia-cxr/card_extra.json --resume \
    >>"$RUNS/member-$member.log" 2>&1 &
  echo "member $member: pid $! log $RUNS/member-$member.log"
done
