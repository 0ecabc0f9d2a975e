"""make ncs2-check, on the host: a cascade bundle of the thesis' architecture for the MYRIAD query.

VGGFace VGG16 (``flatten`` features) + the 1D-CNN head of figure 3.27 at the thesis' window
(100 frames), seeded random weights (the check is about operations, not accuracy), written as a
bundle with ``.keras`` + IR FP32. Needs the ``train`` extra (TensorFlow).

    python ncs2_cascade.py OUT_DIR
"""

import sys
from pathlib import Path


def main(out: str) -> int:
    from fer_edge.convert.keras import to_openvino
    from fer_edge.models import create_model, feature_extractor
    from fer_edge.runtime.bundle import Bundle, FrameSpec, ModelEntry, WindowSpec, provenance, write_manifest
    from fer_edge.runtime.ovcompat import save_ir

    labels = ("angry", "disgust", "fear", "happy", "sad", "surprise")
    root = Path(out)
    root.mkdir(parents=True)
    spatial = feature_extractor(create_model("vggface_vgg16", input_shape=(224, 224, 3), num_classes=6), "flatten")
    features = int(spatial.outputs[0].shape[-1])
    temporal = create_model("cnn1d", timesteps=100, features=features, num_classes=len(labels))
    entries = {}
    for role, model in (("spatial", spatial), ("temporal", temporal)):
        model.save(root / f"{role}.keras")
        save_ir(to_openvino(model), root / f"{role}.xml")
        shape = [int(d) for d in model.inputs[0].shape[1:]]
        out_dim = int(model.outputs[0].shape[-1])
        entries[role] = ModelEntry(f"{role}.xml", "FP32", output=out_dim, input=shape, keras=f"{role}.keras")
    frame = FrameSpec((224, 224), "RGB", (0.0, 0.0, 0.0), (1 / 255,) * 3, 10)
    bundle = Bundle(
        root, "thesis-cascade", "cascade", labels, frame, WindowSpec(100, 5, 16), entries, provenance("ncs2-check")
    )
    write_manifest(bundle)
    print(f"cascade bundle: {root} (spatial -> {features} features, temporal 100 x {features})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
