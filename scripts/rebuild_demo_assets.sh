#!/usr/bin/env bash
# Rebuild everything the app ships for the demo, from the committed demo archive, with the project's own
# scripts. Training takes about 10 minutes per CSMAE model and about 50 minutes per CMID model on 2 CPU
# cores; pass --train to retrain as well.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [[ "${1:-}" == "--train" ]]; then
  # Self-supervised on all 60 pairs (labels never used): the app's model.
  $PY scripts/train.py --config configs/demo.yaml --split all --epochs 750 --out runs/demo --fresh \
      --export assets/models/demo.pt
  # Only the 24 train-split pairs (same number of steps): its held-out numbers measure generalisation.
  $PY scripts/train.py --config configs/demo.yaml --split train --epochs 1500 --out runs/demo-train --fresh \
      --export assets/models/demo-train.pt
  # CMID (cross-sensor, configs/cmid_demo.yaml): the same two protocols, 400 steps each.
  $PY scripts/train.py --config configs/cmid_demo.yaml --split all --epochs 200 --out runs/cmid-demo --fresh \
      --export assets/models/cmid-demo.pt
  $PY scripts/train.py --config configs/cmid_demo.yaml --split train --epochs 400 --out runs/cmid-demo-train --fresh \
      --export assets/models/cmid-demo-train.pt
fi
$PY scripts/build_index.py --model assets/models/demo.pt --out assets/bundles/demo \
    --name "CSMAE demo (self-supervised on all 60 pairs)"
$PY scripts/build_index.py --model assets/models/demo-train.pt --out assets/bundles/demo-train \
    --name "CSMAE demo, train split only (24 pairs)"
$PY scripts/build_index.py --model assets/models/cmid-demo.pt --out assets/bundles/cmid-demo \
    --name "CMID demo (self-supervised on all 60 pairs)"
$PY scripts/build_index.py --model assets/models/cmid-demo-train.pt --out assets/bundles/cmid-demo-train \
    --name "CMID demo, train split only (24 pairs)"
# One table for both families: the train-split models first (their held-out numbers are the fair ones).
BUNDLES="--bundle assets/bundles/demo-train --bundle assets/bundles/cmid-demo-train --bundle assets/bundles/demo --bundle assets/bundles/cmid-demo"
$PY scripts/evaluate.py $BUNDLES --queries validation,test --archive-split validation,test --out assets/evaluation/demo
$PY scripts/evaluate.py $BUNDLES --out assets/evaluation/demo-published-protocol
# Model cards (assets/models/*.md): scripts/write_model_card.py MODEL --evaluation assets/evaluation/demo --out CARD --note TEXT
