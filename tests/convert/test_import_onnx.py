"""``fer-edge import onnx``: an ONNX classifier with HSEmotion's signature (NCHW 224x224 RGB,
ImageNet normalisation, 8 logits, dynamic batch), built here with onnx.helper, becomes a bundle;
and docs/own-model.md's commands run as written on it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from fer_edge.core.errors import FerEdgeError
from fer_edge.core.labels import AFFECTNET8, FER2013, HSEMOTION8, RAFDB, get_labels, mapping

ROOT = Path(__file__).resolve().parents[2]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _standin(path: Path, size: int = 224, classes: int = 8, batch: str | int = "batch_size", seed: int = 0):
    """NCHW input -> a fixed spatial weight map -> mean over H, W -> (N, 3) @ W + b: logits.

    The weight map is not symmetric, so a transposed H/W or channel order changes the scores.
    Returns the numpy weights for a reference computation.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    spatial = rng.uniform(0.0, 2.0, (1, 1, size, size)).astype(np.float32)
    weights = rng.normal(0, 3.0, (3, classes)).astype(np.float32)
    bias = rng.normal(0, 0.5, (classes,)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["input", "spatial"], ["weighted"]),
            helper.make_node("ReduceMean", ["weighted", "axes"], ["pooled"], keepdims=0),
            helper.make_node("MatMul", ["pooled", "weights"], ["scores"]),
            helper.make_node("Add", ["scores", "bias"], ["output"]),
        ],
        "hsemotion-standin",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, classes])],
        [
            numpy_helper.from_array(spatial, "spatial"),
            numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
            numpy_helper.from_array(weights, "weights"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return spatial[0, 0], weights, bias


def _reference(face_rgb: np.ndarray, spatial, weights, bias) -> np.ndarray:
    """The stand-in's probabilities for one RGB face (H, W, 3) uint8, computed in numpy."""
    x = (face_rgb.astype(np.float64) / 255.0 - MEAN) / STD
    logits = (x * spatial[..., None]).mean(axis=(0, 1)) @ weights + bias
    e = np.exp(logits - logits.max())
    return e / e.sum()


def test_label_sets_and_their_mappings():
    assert get_labels("affectnet8") == AFFECTNET8 and get_labels("affectnet7") == AFFECTNET8[:7]
    assert get_labels("hsemotion8")[1] == "contempt" and "contempt" not in get_labels("hsemotion7")
    assert get_labels("rafdb") == RAFDB and len(RAFDB) == 7
    to_fer = mapping(AFFECTNET8, FER2013)
    assert 7 not in to_fer and all(FER2013[to_fer[i]] == AFFECTNET8[i] for i in to_fer)
    assert sorted(mapping(RAFDB, HSEMOTION8)) == list(range(7))  # RAF-DB's 7 classes are all in AffectNet-8
    with pytest.raises(FerEdgeError, match="did you mean"):
        get_labels("affectnet9")


def test_import_onnx_makes_an_nhwc_bundle_with_probabilities(tmp_path):
    from fer_edge.cli import main
    from fer_edge.runtime.bundle import load_bundle
    from fer_edge.runtime.engine import compile_f32

    spatial, weights, bias = _standin(tmp_path / "model.onnx")
    args = ["import", "onnx", str(tmp_path / "model.onnx"), "--labels", "hsemotion8", "--color", "RGB"]
    args += ["--size", "224", "--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD))]
    assert main([*args, "--out", str(tmp_path / "hse")]) == 0
    bundle = load_bundle(tmp_path / "hse")
    manifest = json.loads((tmp_path / "hse" / "manifest.json").read_text())
    assert bundle.labels == HSEMOTION8 and bundle.frame.size == (224, 224) and bundle.frame.color == "RGB"
    assert manifest["provenance"]["layout"] == "NCHW" and manifest["provenance"]["softmax_added"] is True
    assert manifest["provenance"]["parity"]["max_abs_diff"] <= 1e-4
    assert set(manifest["models"]["frame"]["variants"]) == {"FP16"}
    rng = np.random.default_rng(1)
    faces = rng.integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    x = np.stack([bundle.frame.normalise(f.astype(np.float32)) for f in faces]).astype(np.float32)
    got = np.asarray(next(iter(compile_f32(bundle.path / "frame.xml")(x).values())))  # a batch of 3
    expected = np.stack([_reference(f, spatial, weights, bias) for f in faces])
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.argmax(got, 1).tolist() == np.argmax(expected, 1).tolist()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--labels", "fer2013"], "gives 8 scores but 7 labels"),
        (["--labels", "hsemotion8", "--size", "160"], "takes 224x224 faces, not 160x160"),
        (["--labels", "hsemotion8", "--color", "GRAY"], "does not fit colour GRAY"),
        (["--labels", "hsemotion8", "--mean", "0.5", "0.5"], "need 3 value"),
        (["--labels", "affectnet9"], "did you mean"),
        ([], "needs --labels"),
    ],
)
def test_import_onnx_user_mistakes_are_one_line(tmp_path, capsys, extra, message):
    from fer_edge.cli import main

    _standin(tmp_path / "model.onnx", size=224)
    rc = main(["import", "onnx", str(tmp_path / "model.onnx"), "--out", str(tmp_path / "b"), *extra])
    err = capsys.readouterr().err
    assert rc != 0 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "b").exists()


def test_a_dynamic_size_needs_size(tmp_path, capsys):
    import onnx

    from fer_edge.cli import main

    _standin(tmp_path / "model.onnx")
    model = onnx.load(str(tmp_path / "model.onnx"))
    for d in model.graph.input[0].type.tensor_type.shape.dim[2:]:
        d.dim_param = "side"
    model.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "spatial"))
    onnx.save(model, str(tmp_path / "dyn.onnx"))
    base = ["import", "onnx", str(tmp_path / "dyn.onnx"), "--labels", "hsemotion8", "--out"]
    assert main([*base, str(tmp_path / "a")]) != 0
    assert "dynamic input size" in capsys.readouterr().err
    assert main([*base, str(tmp_path / "b"), "--size", "112x96"]) == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["frame"]["size"] == [96, 112]


def test_demo_on_the_plain_nchw_file_points_to_import(tmp_path, capsys):
    from fer_edge.cli import main

    _standin(tmp_path / "model.onnx")
    rc = main(["demo", "--bundle", str(tmp_path / "model.onnx"), "--labels", "hsemotion8", "--no-show", "--no-save"])
    err = capsys.readouterr().err
    assert rc != 0 and "fer-edge import onnx" in err and len(err.strip().splitlines()) == 1, err


def _doc_commands() -> list[str]:
    text = (ROOT / "docs" / "own-model.md").read_text()
    block = text.split("<!-- the commands below run in tests/convert/test_import_onnx.py", 1)[1]
    block = block.split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines() if line.strip().startswith("fer-edge ")]


@pytest.mark.slow
def test_the_docs_example_runs_end_to_end(tmp_path, monkeypatch):
    """docs/own-model.md's four commands, as written, on the stand-in and a synthetic face video."""
    from fer_edge.cli import main
    from tests.support.videos import two_faces_video

    _standin(tmp_path / "enet_b0_8_best_afew.onnx")
    two_faces_video(tmp_path / "my_faces.mp4", frames=30)
    monkeypatch.chdir(tmp_path)
    commands = _doc_commands()
    assert [c.split()[1] for c in commands] == ["import", "demo", "optimize", "benchmark"]
    for command in commands:
        argv = shlex.split(command)[1:]
        assert main(argv) == 0, command
    events = (tmp_path / "runs" / "hse-demo" / "events.jsonl").read_text().splitlines()
    labels = {json.loads(e)["label"] for e in events} - {None}
    assert labels and labels <= set(HSEMOTION8)
    int8 = json.loads((tmp_path / "runs" / "hse_int8" / "manifest.json").read_text())
    assert int8["models"]["frame"]["precision"] == "INT8" and int8["labels"] == list(HSEMOTION8)
    report = next((tmp_path / "runs" / "hse-bench").glob("*.json"))
    assert re.search(r'"precision":\s*"INT8"', report.read_text())
