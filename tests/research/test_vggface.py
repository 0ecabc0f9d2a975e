"""VGGFace: keras-vggface layer names and the by-name loader on Keras-2 HDF5 weight files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.models import create_model, feature_extractor, load_vggface_weights

pytestmark = pytest.mark.tf  # Keras models

SMALL = dict(input_shape=(32, 32, 3), dense_units=(16,))


def _original(keras_name: str) -> str:
    """keras-vggface's spelling, written out independently of the library's mapping."""
    return keras_name.replace("conv1_7x7_s2", "conv1/7x7_s2").replace("_bn", "/bn")


def _write_keras2_h5(model, path, *, extra=(), drop=(), reshape=None):
    """Write ``model``'s weights as Keras 2's ``save_weights`` did (what keras-vggface ships).

    Root attribute ``layer_names`` lists every layer (weightless ones too); each layer's
    group has ``weight_names`` like ``conv1/7x7_s2/bn/gamma:0`` with the datasets at those
    (nested) paths. ``extra`` adds fake layers, ``drop`` leaves layers out, ``reshape``
    truncates one layer's first weight.
    """
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.1.5"
        names = []
        for layer in model.layers:
            if layer.name in drop or layer.name in ("image", "normalization"):
                continue
            name = _original(layer.name)
            names.append(name.encode())
            group = f.require_group(name)
            weight_names = []
            for i, weight in enumerate(layer.weights):
                value = np.asarray(weight.numpy())
                if reshape == layer.name and i == 0:
                    value = value[..., :-1]
                wname = f"{name}/{weight.name}:0"
                group.create_dataset(wname, data=value)
                weight_names.append(wname.encode())
            group.attrs["weight_names"] = np.array(weight_names, dtype="S")
        for name, arrays in extra:
            names.append(name.encode())
            group = f.require_group(name)
            wnames = [f"{name}/{k}:0" for k in arrays]
            for wname, value in zip(wnames, arrays.values()):
                group.create_dataset(wname, data=value)
            group.attrs["weight_names"] = np.array([w.encode() for w in wnames], dtype="S")
        f.attrs["layer_names"] = np.array(names, dtype="S")


def _weighted_names(model):
    return [layer.name for layer in model.layers if layer.weights]


def test_vgg16_uses_keras_vggface_layer_names():
    model = create_model("vggface_vgg16", **SMALL)
    convs = [f"conv{b}_{i}" for b, n in enumerate((2, 2, 3, 3, 3), 1) for i in range(1, n + 1)]
    assert _weighted_names(model) == [*convs, "dense", "predictions"]
    assert [f"pool{i}" for i in range(1, 6)] == [lyr.name for lyr in model.layers if lyr.name.startswith("pool")]


def test_resnet50_uses_keras_vggface_layer_names():
    model = create_model("vggface_resnet50", **SMALL)
    originals = [_original(n) for n in _weighted_names(model)]
    for name in (
        "conv1/7x7_s2",
        "conv1/7x7_s2/bn",
        "conv2_1_1x1_reduce",
        "conv2_1_1x1_reduce/bn",
        "conv2_3_3x3/bn",
        "conv3_1_1x1_proj",
        "conv4_6_1x1_increase/bn",
        "conv5_3_1x1_increase",
    ):
        assert name in originals
    assert "conv2_2_1x1_proj" not in originals  # identity blocks have no projection
    # 1 stem conv+bn, 16 blocks x 3 conv+bn, 4 projections x conv+bn, plus the new head.
    assert len(originals) == 2 + 16 * 6 + 4 * 2 + 2
    assert model.get_layer("avg_pool") is not None


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vggface_vgg16", "vggface_resnet50"])
def test_loader_assigns_every_vggface_layer_by_name(name, tmp_path):
    source = create_model(name, **SMALL)
    for layer in source.layers:  # distinctive values, BN statistics included
        layer.set_weights(
            [
                np.random.default_rng(7).normal(size=w.shape).astype("float32") * 0.05 + (i == 3)
                for i, w in enumerate(layer.get_weights())
            ]
        )
    fc6 = {"kernel": np.zeros((4, 3), "float32"), "bias": np.zeros(3, "float32")}
    path = tmp_path / "rcmalli_vggface_tf.h5"
    _write_keras2_h5(source, path, drop=("dense", "predictions"), extra=[("fc6", fc6)])

    target = create_model(name, **SMALL)
    head_before = [w.copy() for w in target.get_layer("predictions").get_weights()]
    report = load_vggface_weights(target, path)
    assert report.assigned == _weighted_names(target)[:-2]
    assert report.unused == ["fc6"]
    for layer_name in report.assigned:
        for a, b in zip(source.get_layer(layer_name).get_weights(), target.get_layer(layer_name).get_weights()):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(head_before, target.get_layer("predictions").get_weights()):
        np.testing.assert_array_equal(a, b)  # new head untouched
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(feature_extractor(target)(x), feature_extractor(source)(x), atol=1e-5)


def test_weights_argument_loads_the_file(tmp_path):
    source = create_model("vggface_vgg16", **SMALL)
    path = tmp_path / "w.h5"
    _write_keras2_h5(source, path, drop=("dense", "predictions"))
    built = create_model("vggface_vgg16", weights=str(path), **SMALL)
    np.testing.assert_array_equal(
        built.get_layer("conv5_3").get_weights()[0], source.get_layer("conv5_3").get_weights()[0]
    )


def test_shape_mismatch_names_the_first_bad_layer_and_assigns_nothing(tmp_path):
    source = create_model("vggface_vgg16", **SMALL)
    path = tmp_path / "broken.h5"
    _write_keras2_h5(source, path, reshape="conv3_2")
    target = create_model("vggface_vgg16", **SMALL)
    before = target.get_layer("conv1_1").get_weights()[0].copy()
    with pytest.raises(
        FerEdgeError, match=r"layer 'conv3_2' in .*broken.h5.*shape \(3, 3, 256, 255\).*expects \(3, 3, 256, 256\)"
    ):
        load_vggface_weights(target, path)
    np.testing.assert_array_equal(target.get_layer("conv1_1").get_weights()[0], before)


@pytest.mark.slow
def test_missing_layer_is_named(tmp_path):
    source = create_model("vggface_resnet50", **SMALL)
    path = tmp_path / "missing.h5"
    _write_keras2_h5(source, path, drop=("conv4_1_1x1_proj_bn",))
    with pytest.raises(FerEdgeError, match=r"has no layer 'conv4_1_1x1_proj_bn'"):
        load_vggface_weights(create_model("vggface_resnet50", **SMALL), path)


def test_wrong_architecture_file_is_refused(tmp_path):
    path = tmp_path / "vgg.h5"
    _write_keras2_h5(create_model("vggface_vgg16", **SMALL), path)
    with pytest.raises(FerEdgeError, match=r"has no layer 'conv1_7x7_s2'"):
        load_vggface_weights(create_model("vggface_resnet50", **SMALL), path)


def test_unreadable_or_missing_files_are_one_line_errors(tmp_path):
    model = create_model("vggface_vgg16", **SMALL)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(FerEdgeError, match="cannot read .*junk.h5 as HDF5"):
        load_vggface_weights(model, junk)
    with pytest.raises(FerEdgeError, match="does not exist"):
        load_vggface_weights(model, tmp_path / "absent.h5")
    with pytest.raises(FerEdgeError, match="does not exist"):
        create_model("vggface_vgg16", weights=str(tmp_path / "absent.h5"), **SMALL)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_group("conv1_1")
    with pytest.raises(FerEdgeError, match="no 'layer_names' attribute"):
        load_vggface_weights(model, empty)


def test_original_top_needs_224(tmp_path):
    with pytest.raises(FerEdgeError, match="include_top=True .*224x224"):
        create_model("vggface_vgg16", input_shape=(160, 160, 3), include_top=True)
