#!/usr/bin/env bash
# Tables 3.6 and 3.7 of the thesis end to end: the VGGFace fine-tuning (stage 1, table 3.4's row),
# the three cascades and the two clip models (table 3.6), then every fusion subset (table 3.7),
# and finally both tables with the thesis' figure beside each measured one.
# Every step resumes where it stopped (run it again after an interruption); a finished step is reused.
# Needs what the recipes name: data/fer2013.csv, data/BU4DFE, data/openface and the keras-vggface
# weights (pass their path as the first argument).
# Run: train/reproduce_tables_3_6_3_7.sh weights/rcmalli_vggface_tf_notop_vgg16.h5 [RUNS]
set -euo pipefail
weights=${1:?usage: $0 VGGFACE_WEIGHTS.h5 [RUNS]}
runs=${2:-runs}
here=$(cd "$(dirname "$0")" && pwd)

fer-edge train spatial --recipe "$here/vggface_finetune.yaml" --out "$runs/vggface_finetune" \
  --set "spatial.options.weights=$weights"
extractor="$runs/vggface_finetune/spatial/model.keras"
for name in vggface_lstm vggface_bilstm vggface_1dcnn; do
  fer-edge train temporal --recipe "$here/$name.yaml" --out "$runs/$name" --set "spatial.weights=$extractor"
done
for name in c3d convlstm; do
  fer-edge train clip --recipe "$here/$name.yaml" --out "$runs/$name"
done
fuse() {  # recipe, out, member runs...
  local recipe=$1 out=$2
  shift 2
  fer-edge fuse --recipe "$here/$recipe.yaml" --out "$runs/$out" "${@/#/$runs/}"
}
fuse fusion_lstm_bilstm fusion_lstm_bilstm vggface_lstm/bundle vggface_bilstm/bundle
fuse fusion_lstm_bilstm_1dcnn fusion_lstm_bilstm_1dcnn vggface_lstm/bundle vggface_bilstm/bundle vggface_1dcnn/bundle
fuse fusion_c3d_convlstm fusion_c3d_convlstm c3d/bundle convlstm/bundle
fuse fusion_1dcnn_c3d fusion_1dcnn_c3d vggface_1dcnn/bundle c3d/bundle
fuse fusion fusion vggface_lstm/bundle vggface_bilstm/bundle vggface_1dcnn/bundle c3d/bundle convlstm/bundle
fer-edge fuse --thesis-tables "$runs"
