"""Hostile inputs, crafted Keras files (``fer-edge import keras``, the TF-free reader in
``fer_edge.convert.kerasfile``): each ends in one line naming the file and the problem, before
any large allocation, and Lambda layers are still refused (their code never runs)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from fer_edge.cli import main
from fer_edge.convert.kerasfile import convert_keras_file
from fer_edge.core.errors import FerEdgeError

ROOT = Path(__file__).resolve().parents[2]


def _layers() -> tuple[list[dict], dict[str, list[tuple[str, np.ndarray]]]]:
    """Input 8x8x1 -> Conv2D(2, 3x3) -> GlobalAveragePooling2D -> Dense(3, softmax), as tf.keras 2 saves it."""
    rng = np.random.default_rng(0)

    def layer(cls: str, name: str, inputs: list[str], **config) -> dict:
        return {
            "class_name": cls,
            "name": name,
            "config": {"name": name, **config},
            "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else [],
        }

    layers = [
        layer("InputLayer", "input_1", [], batch_input_shape=[None, 8, 8, 1], dtype="float32"),
        layer("Conv2D", "conv", ["input_1"], filters=2, kernel_size=[3, 3], padding="valid", activation="relu"),
        layer("GlobalAveragePooling2D", "gap", ["conv"]),
        layer("Dense", "dense", ["gap"], units=3, activation="softmax"),
    ]
    weights = {
        "conv": [("conv/kernel:0", rng.normal(size=(3, 3, 1, 2))), ("conv/bias:0", np.zeros(2))],
        "dense": [("dense/kernel:0", rng.normal(size=(2, 3))), ("dense/bias:0", np.zeros(3))],
    }
    return layers, weights


def _save(path: Path, layers: list[dict], weights: dict, *, config: bytes | str | None = None) -> Path:
    body = {"name": "m", "layers": layers, "input_layers": [["input_1", 0, 0]], "output_layers": [["dense", 0, 0]]}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        text = config if config is not None else json.dumps({"class_name": "Functional", "config": body})
        f.attrs["model_config"] = np.void(text) if isinstance(text, bytes) else text
        group = f.create_group("model_weights")
        for layer in layers:
            name = layer["name"]
            sub = group.create_group(name)
            sub.attrs["weight_names"] = [n.encode() for n, _ in weights.get(name, [])]
            for n, a in weights.get(name, []):
                sub.create_dataset(n, data=np.asarray(a, np.float32))
    return path


def _crafted(tmp_path: Path, change=None, **save) -> Path:
    layers, weights = _layers()
    if change is not None:
        change(layers, weights)
    return _save(tmp_path / "m.h5", layers, weights, **save)


def test_the_plain_file_converts(tmp_path):
    """The base of every crafted case is a good model: only the crafted part is refused."""
    model, kf = convert_keras_file(_crafted(tmp_path))
    assert [d.get_length() for d in model.outputs[0].get_partial_shape()[1:]] == [3]
    assert kf.count_params() == 3 * 3 * 2 + 2 + 2 * 3 + 3


def _set(layer: str, **config):
    def change(layers, weights):
        next(x for x in layers if x["name"] == layer)["config"].update(config)

    return change


def _weight(layer: str, index: int, shape: tuple[int, ...]):
    def change(layers, weights):
        name, _ = weights[layer][index]
        weights[layer][index] = (name, np.ones(shape))

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (
            _weight("dense", 0, (5, 3)),
            r"layer 'dense' \(Dense\): kernel has shape \(5, 3\), but its input has 2 features",
        ),
        (_weight("dense", 1, (4,)), r"layer 'dense' \(Dense\): bias has shape \(4,\), expected \(3,\)"),
        (
            _weight("conv", 0, (3, 3, 1, 5)),
            r"layer 'conv' \(Conv2D\): kernel has shape \(3, 3, 1, 5\), expected \(3, 3, 1, 2\)",
        ),
        (
            _weight("conv", 0, (3, 3, 4, 2)),
            r"layer 'conv' \(Conv2D\): kernel has shape \(3, 3, 4, 2\), but its input has 1 channel",
        ),
        (_set("dense", units=2**40), r"layer 'dense' \(Dense\): units 1099511627776 is out of range"),
        (_set("conv", kernel_size=[3, 2**31]), r"layer 'conv' \(Conv2D\): kernel_size .* is out of range"),
        (_set("conv", strides="fast"), r"layer 'conv' \(Conv2D\): strides 'fast' is not"),
        (
            _set("input_1", batch_input_shape=[None, 100000, 100000, 1]),
            r"input 'input_1' is 100000x100000.*at most 4096",
        ),
        (_set("input_1", batch_input_shape=[None, -8, 8, 1]), r"input 'input_1' has shape \[None, -8, 8, 1\]"),
        (_set("input_1", batch_input_shape="8x8"), r"input 'input_1' has shape '8x8'"),
    ],
)
def test_crafted_configs_and_weights(tmp_path, change, message):
    with pytest.raises(FerEdgeError, match=message):
        convert_keras_file(_crafted(tmp_path, change))


def test_deep_nesting(tmp_path):
    """A config nested 100,000 deep: the JSON parser's RecursionError becomes one line."""
    layers, weights = _layers()
    text = json.dumps({"class_name": "Functional", "config": {"name": "@"}}).replace(
        '"@"', "[" * 100_000 + "]" * 100_000
    )
    with pytest.raises(FerEdgeError, match=r"m\.h5: .*model config.*(nested|not valid JSON)"):
        convert_keras_file(_save(tmp_path / "m.h5", layers, weights, config=text))


def test_deep_but_parseable_nesting(tmp_path):
    """Nesting the parser takes (500 deep) in a layer's config: refused as too deep, not walked."""
    change = _set("conv", activation={"config": json.loads("[" * 500 + "]" * 500)})
    with pytest.raises(FerEdgeError, match=r"nested deeper than"):
        convert_keras_file(_crafted(tmp_path, change))


def test_non_utf8_names(tmp_path):
    layers, weights = _layers()
    body = json.dumps(
        {
            "class_name": "Functional",
            "config": {
                "name": "m",
                "layers": layers,
                "input_layers": [["input_1", 0, 0]],
                "output_layers": [["dense", 0, 0]],
            },
        }
    )
    raw = body.encode().replace(b'"dense"', b'"dense\xff\xfe"')
    with pytest.raises(FerEdgeError, match=r"m\.h5: .*model config is not UTF-8"):
        convert_keras_file(_save(tmp_path / "m.h5", layers, weights, config=raw))
    path = _crafted(tmp_path)
    with h5py.File(path, "r+") as f:
        f["model_weights/dense"].attrs["weight_names"] = [b"dense/kernel\xff:0", b"dense/bias:0"]
    with pytest.raises(FerEdgeError, match=r"weight names of layer 'dense' are not UTF-8"):
        convert_keras_file(path)


def test_lambda_layers_stay_refused(tmp_path):
    def to_lambda(layers, weights):
        layer = next(x for x in layers if x["name"] == "gap")
        layer["class_name"] = "Lambda"
        layer["config"]["function"] = ["print('ran')", None, None]

    with pytest.raises(FerEdgeError, match=r"layer 'gap' \(Lambda\) is not supported"):
        convert_keras_file(_crafted(tmp_path, to_lambda))


def test_huge_input_is_refused_before_allocating(tmp_path):
    """The CLI under a 2 GiB address-space limit: the 1.16 TiB probe is never allocated."""
    bad = _crafted(tmp_path, _set("input_1", batch_input_shape=[None, 100000, 100000, 1]))
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30));"
        "from fer_edge.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    argv = ["import", "keras", str(bad), "--converter", "builtin", "--labels", "a,b,c", "--out", str(tmp_path / "b")]
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("fer-edge")]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert "100000x100000" in lines[0] and not (tmp_path / "b").exists()
    assert resource.getrlimit(resource.RLIMIT_AS)  # the limit was set in the child only


def test_cli_one_line(tmp_path, capsys):
    bad = _crafted(tmp_path, _weight("dense", 0, (5, 3)))
    rc = main(
        ["import", "keras", str(bad), "--converter", "builtin", "--labels", "a,b,c", "--out", str(tmp_path / "b")]
    )
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1 and "layer 'dense' (Dense)" in err, err
    assert not (tmp_path / "b").exists()


def test_weights_declared_huge_are_not_read(tmp_path):
    """An HDF5 dataset can declare 10^12 values in a few KB (chunks are allocated on write)."""
    path = _crafted(tmp_path)
    with h5py.File(path, "r+") as f:
        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense"].create_dataset("dense/kernel:0", (1_000_000, 1_000_000), np.float32, chunks=(1, 1024))
    assert path.stat().st_size < 100_000
    with pytest.raises(FerEdgeError, match=r"layer 'dense' declares shape \(1000000, 1000000\), over 268,435,456"):
        convert_keras_file(path)
    with h5py.File(path, "r+") as f:
        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense"].create_dataset("dense/kernel:0", data=np.array([b"a", b"b"]))
    with pytest.raises(FerEdgeError, match=r"a weight of layer 'dense' is not a numeric array"):
        convert_keras_file(path)
