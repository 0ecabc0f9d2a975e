"""Export equivalence, structured pruning (shapes, exactness, fine-tune) and distillation."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import load_bundle
from tests.support.ovmodels import calibration_npz, keras_cascade_bundle, keras_frame_bundle

pytestmark = [pytest.mark.tf, pytest.mark.slow]  # Keras-backed bundles; prunes, distills and exports


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras")
    return {
        "frame": keras_frame_bundle(root / "frame"),
        "cascade": keras_cascade_bundle(root / "cascade"),
        "npz": calibration_npz(root / "calib.npz"),
        "root": root,
    }


def test_export_openvino_equivalence(tiny):
    from fer_edge.optimize.export import export_bundle

    res = export_bundle(tiny["cascade"].path, tiny["root"] / "exp", calibration=str(tiny["npz"]))
    assert res.inputs == "real"
    for role in ("spatial", "temporal"):
        assert res.parity[role]["max_abs_diff"] < 1e-4 and res.parity[role]["argmax_agreement"] == 1.0
    b = load_bundle(res.bundle)
    assert b.model_path("spatial", "FP16").is_file() and b.provenance["export"]["format"] == "openvino"
    with pytest.raises(FerEdgeError, match="did you mean 'onnx'"):
        export_bundle(tiny["frame"].path, format="onxx")


def test_export_onnx(tiny):
    from fer_edge.optimize.export import export_bundle

    # Written from the IR (no TensorFlow); the onnx package (optimize extra) reads the opset back.
    res = export_bundle(tiny["frame"].path, tiny["root"] / "onnx", format="onnx")
    assert res.files["frame"] == ["frame.onnx"] and res.parity["frame"]["max_abs_diff"] < 1e-4
    from fer_edge.optimize.export import ONNX_OPSET, onnx_opset

    assert onnx_opset(load_bundle(res.bundle).path / "frame.onnx") == ONNX_OPSET == 13  # OpenVINO 2021.4 reads it
    from fer_edge.runtime.engine import EngineConfig, load_model

    onnx = load_model(load_bundle(res.bundle).path / "frame.onnx", EngineConfig(precision="f32"))
    x = np.random.default_rng(0).uniform(0, 1, (2, *onnx.input_shape[1:])).astype(np.float32)
    assert onnx(x).shape[-1] == load_bundle(res.bundle).models["frame"].output


def test_conversion_error_names_op_and_layer():
    from fer_edge.convert.keras import culprits
    from fer_edge.models import create_model

    model = create_model("lstm", timesteps=4, features=8, units=4)
    text = culprits(model, "No conversion rule found for operations: TensorListReserve, TensorListStack")
    assert "op TensorListReserve" in text and "(LSTM)" in text


def _zero_filters(model, layer, idx):
    w = model.get_layer(layer).get_weights()
    w[0][..., idx] = 0.0
    w[1][idx] = 0.0
    model.get_layer(layer).set_weights(w)


def test_prune_shapes_and_exactness():
    from fer_edge.models import create_model
    from fer_edge.optimize.prune import prune_model

    model = create_model("test_spatial", num_classes=3, seed=1)
    # Filters that are exactly zero rank last and carry nothing: removing them changes nothing.
    _zero_filters(model, "block1_conv1", [0, 2, 4, 6])
    _zero_filters(model, "block2_conv1", list(range(0, 16, 2)))
    _zero_filters(model, "block3_conv1", list(range(8)))
    pruned, kept = prune_model(model, 0.5)
    assert {k: v.size for k, v in kept.items()} == {"block1_conv1": 4, "block2_conv1": 8, "block3_conv1": 8}
    assert pruned.get_layer("block3_conv1").filters == 8 and pruned.get_layer("dense").kernel.shape == (128, 32)
    assert pruned.count_params() < model.count_params() / 2
    x = np.random.default_rng(0).uniform(0, 255, (6, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(pruned(x), model(x), atol=1e-5)
    # A feature extractor keeps its output (the temporal head's input size).
    from fer_edge.models import feature_extractor

    _, kept = prune_model(feature_extractor(model, "flatten"), 0.5)
    assert set(kept) == {"block1_conv1", "block2_conv1"}
    with pytest.raises(FerEdgeError, match=r"\(0, 0.9\]"):
        prune_model(model, 0.95)


def test_prune_skips_residual_branches():
    import keras

    from fer_edge.optimize.prune import prune_model

    inp = keras.Input((16, 16, 3))
    a = keras.layers.Conv2D(8, 3, padding="same", name="a")(inp)
    b = keras.layers.Conv2D(8, 3, padding="same", name="b")(a)
    c = keras.layers.BatchNormalization(name="bn")(keras.layers.Conv2D(8, 3, padding="same", name="c")(b))
    s = keras.layers.Add(name="add")([b, c])
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(s))
    _, kept = prune_model(keras.Model(inp, out), 0.5)
    assert set(kept) == {"a"}


def test_prune_bundle_fine_tunes_and_quantizes(tiny):
    from fer_edge.optimize.stage import optimize_bundle

    report = optimize_bundle(
        tiny["frame"].path,
        precision="int8",
        prune=0.5,
        prune_epochs=3,
        calibration=str(tiny["npz"]),
        out=str(tiny["root"] / "pruned"),
        iterations=5,
        subset_size=64,
    )
    assert any(s.startswith("prune 0.5") for s in report.steps)
    assert [r.variant for r in report.rows] == ["parent", "prune", "int8"]
    assert report.rows[1].params < report.rows[0].params and report.rows[1].flops < report.rows[0].flops
    b = load_bundle(report.bundle)
    from fer_edge.models import load_keras_model

    student = load_keras_model(b.path / b.models["frame"].keras)
    assert student.get_layer("conv1").filters == 4


def test_distillation_loss_matches_reference():
    from fer_edge.optimize.distill import distillation_loss, distillation_loss_np

    rng = np.random.default_rng(0)
    t = rng.dirichlet(np.ones(4), 5).astype(np.float32)
    s = rng.dirichlet(np.ones(4), 5).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]]
    y[4] = 0  # an unlabelled item: KL only
    got = np.asarray(distillation_loss(3.0, 0.6)(np.concatenate([y, t], -1), s))
    np.testing.assert_allclose(got, distillation_loss_np(y, t, s, 3.0, 0.6), rtol=1e-5)
    # Identical distributions, alpha 1: zero loss; alpha 0 is plain cross-entropy.
    assert np.abs(np.asarray(distillation_loss(4.0, 1.0)(np.concatenate([y, t], -1), t))).max() < 1e-5
    np.testing.assert_allclose(
        np.asarray(distillation_loss(4.0, 0.0)(np.concatenate([y, t], -1), s))[:4],
        -np.log(s[np.arange(4), [0, 1, 2, 3]]),
        rtol=1e-5,
    )


def test_distill_cascade_compact_student(tiny):
    from fer_edge.optimize.calibration import load_calibration
    from fer_edge.optimize.distill import distill_bundle

    bundle = tiny["cascade"]
    data = load_calibration(bundle, tiny["npz"])
    res = distill_bundle(bundle, data, "student", epochs=2, options={"pool": 2, "filters": (4, 4, 8, 8)})
    net, head = res.models["spatial"], res.models["temporal"]
    # 4x4x16 teacher map pooled 2x2 -> 64 features, and the narrow head takes exactly those.
    assert tuple(net.outputs[0].shape[1:]) == (64,) and tuple(net.inputs[0].shape[1:]) == (32, 32, 3)
    assert tuple(head.inputs[0].shape[1:]) == (bundle.window.length, 64)
    assert res.params_student < res.params_teacher
    assert res.history[-1] < res.history[0]
    with pytest.raises(FerEdgeError, match="is a temporal model"):
        distill_bundle(bundle, data, "test_temporal", epochs=1)
    with pytest.raises(FerEdgeError, match="must divide"):
        distill_bundle(bundle, data, "student", epochs=1, options={"pool": 3})
    with pytest.raises(FerEdgeError, match="did you mean 'pool'"):
        distill_bundle(bundle, data, "student", epochs=1, options={"pol": 2})


def test_optimize_distill_frame_bundle(tiny):
    from fer_edge.optimize.stage import optimize_bundle

    report = optimize_bundle(
        tiny["frame"].path,
        precision="fp16",
        distill="student",
        distill_epochs=2,
        student_options={"width": 0.25},
        calibration=str(tiny["npz"]),
        out=str(tiny["root"] / "distilled"),
        iterations=5,
    )
    assert [r.variant for r in report.rows] == ["parent", "distill", "fp16"]
    assert report.rows[2].accuracy is not None and "distill student" in report.steps[0]
