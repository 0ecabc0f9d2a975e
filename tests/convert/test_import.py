"""`fer-edge import keras`: a tiny Keras classifier -> frame bundle -> the runtime (needs TF)."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.cli import main
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import load_bundle

pytestmark = pytest.mark.tf  # Keras builds the files and checks the imports


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(7, activation="softmax")(x)
    path = tmp_path_factory.mktemp("k") / "tiny.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def test_import_keras_writes_a_valid_bundle(tmp_path, keras_file, capsys):
    rc = main(
        [
            "import",
            "keras",
            str(keras_file),
            "--labels",
            "fer2013",
            "--gray",
            "--mean",
            "0.5",
            "--std",
            "0.5",
            "--out",
            str(tmp_path / "b"),
        ]
    )
    assert rc == 0
    bundle = load_bundle(tmp_path / "b")
    assert bundle.kind == "frame" and bundle.frame.size == (32, 32) and bundle.frame.color == "GRAY"
    assert bundle.models["frame"].variants == {"FP16": "frame-fp16.xml"}
    parity = bundle.provenance["parity"]
    assert parity["max_abs_diff"] < 1e-5 and parity["argmax_agreement"] == 1.0
    assert bundle.provenance["converter"] == "builtin"  # checked against Keras, which is installed here
    import openvino as ov

    x = np.random.default_rng(1).normal(size=(3, 32, 32, 1)).astype(np.float32)
    ir = ov.Core().compile_model(str(bundle.model_path("frame")), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    import keras

    k = keras.models.load_model(bundle.path / "frame.keras", safe_mode=True)
    assert np.allclose(ir(x)[0], k(x), atol=1e-5)
    assert "next: fer-edge demo" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--labels", "thesis"], "7 outputs but 6 labels"),
        (["--frame", "48x48"], "takes 32x32 faces"),
        (["--bgr"], "does not fit colour BGR"),
        (["--mean", "0.5,0.5,0.5"], "need 1 value"),
    ],
)
def test_import_mismatches(tmp_path, keras_file, capsys, args, message):
    rc = main(["import", "keras", str(keras_file), "--out", str(tmp_path / "b"), *args])
    assert rc != 0 and message in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_import_bad_files(tmp_path):
    from fer_edge.convert.importer import import_keras

    with pytest.raises(FerEdgeError, match="model not found"):
        import_keras(tmp_path / "none.keras", tmp_path / "b")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(FerEdgeError, match="cannot load Keras model"):
        import_keras(bad, tmp_path / "b")


def test_layers_the_builtin_reader_lacks_go_through_tensorflow(tmp_path):
    import keras

    from fer_edge.convert.importer import import_keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.UpSampling2D()(keras.layers.Conv2D(2, 3, strides=2, padding="same")(inputs))
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    path = tmp_path / "upsampling.keras"
    keras.Model(inputs, outputs).save(path)
    bundle = import_keras(path, tmp_path / "auto")
    assert bundle.provenance["converter"] == "tensorflow" and bundle.provenance["parity"]["max_abs_diff"] < 1e-5
    with pytest.raises(FerEdgeError, match=r"\(UpSampling2D\).*'train' extra"):
        import_keras(path, tmp_path / "builtin", converter="builtin")
    assert import_keras(path, tmp_path / "tf", converter="tensorflow").provenance["converter"] == "tensorflow"
