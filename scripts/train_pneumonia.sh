#!/usr/bin/env bash
# Fine-tune the two networks of the shipped pneumonia-cxr model, on CPU in the background,
# resumable: run it again after a stop and each member continues from its last per-epoch
# checkpoint (--resume). Defaults are the 1.3.0 recipe (from 1.2.0, region blur added):
#   RUNS=runs/m130 bash scripts/train_pneumonia.sh
# 1.2.0 was (from 1.1.0, commit f01236a's resources/models/pneumonia-cxr):
#   RUNS=runs/m120 VERSION=1.2.0 EPOCHS=4 LR=5e-4 PATCH_BLUR=0 SEED_BASE=20 bash scripts/train_pneumonia.sh
#   (epochs 1-2 of 1.2.0 ran with heavy_blur_p 0, i.e. the code before commit "heavy blur"; both
#   members were stopped after epoch 2 and resumed with heavy_blur_p 0.2 for epochs 3-4)
# INIT may name one folder per member with %m for the member number (a trained member folder, no
# --init-member then); DEPTHS=1,1,2,2 deepens the init networks (added blocks start as identities).
# The val split is divided by patient first: val-calib (monitoring during training, then
# calibration + threshold) and val-test (never used for any choice: the held-out figures).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/cxr}
RUNS=${RUNS:-runs/m130}
PY=${PY:-python}
INIT=${INIT:-resources/models/pneumonia-cxr}
VERSION=${VERSION:-1.3.0}
EPOCHS=${EPOCHS:-6}
EPOCH_IMAGES=${EPOCH_IMAGES:-1200}  # 1,200 random train images per short epoch (of 4,686)
LR=${LR:-3e-4}
HEAVY_BLUR=${HEAVY_BLUR:-0.2}
PATCH_BLUR=${PATCH_BLUR:-0.3}
SEED_BASE=${SEED_BASE:-30}
DEPTHS=${DEPTHS:-}
mkdir -p "$RUNS"
"$PY" -m inference.splits "$DATA" "$RUNS/val-split" --split val --parts calib=0.5 test=0.5 --seed 11
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=${THREADS_PER_MEMBER:-1}
for member in ${MEMBERS:-0 1}; do
  if [[ "$INIT" == *%m* ]]; then init=(--init "${INIT//%m/$member}"); else init=(--init "$INIT" --init-member "$member"); fi
  nohup "$PY" -m viewer.cli train --data "$DATA/train" --val "$RUNS/val-split/calib" \
    --out "$RUNS/member-$member" "${init[@]}" ${DEPTHS:+--depths "$DEPTHS"} \
    --epochs "$EPOCHS" --epoch-images "$EPOCH_IMAGES" --lr "$LR" --consistency 0.1 \
    --heavy-blur "$HEAVY_BLUR" --patch-blur "$PATCH_BLUR" --select last \
    --seed "$((member + SEED_BASE))" \
    --id "pneumonia-cxr-m$member" --name "RadLens pediatric pneumonia CXR (member $member)" \
    --version "$VERSION" --card-extra resources/models/pneumonia-cxr/card_extra.json --resume \
    >>"$RUNS/member-$member.log" 2>&1 &
  echo "member $member: pid $! log $RUNS/member-$member.log"
done
