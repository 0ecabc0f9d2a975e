"""Hostile inputs, plain models (``--bundle model.xml|.onnx``): OpenVINO's real reason in one
line (not "Exception from src/inference/src/cpp/core.cpp:84:"), lists cut short in messages
(``fer_edge.core.errors.listing``), and a full temporary folder named with its fix."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from fer_edge.cli import main
from tests.support.fulldisk import FULL, run_full
from tests.support.ovmodels import frame_bundle


@pytest.fixture(scope="module")
def ir(tmp_path_factory):
    root = tmp_path_factory.mktemp("plain")
    bundle = frame_bundle(root / "bundle")
    return bundle.path / "frame.xml"


def _demo(model, *extra: str) -> list[str]:
    return ["demo", "--bundle", str(model), "--source", "none-needed.mp4", "--no-show", "--no-save", *extra]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_missing_bin(tmp_path, ir, capsys):
    shutil.copy(ir, tmp_path / "frame.xml")
    assert main(_demo(tmp_path / "frame.xml", "--labels", "a,b,c")) != 0
    assert re.search(r"frame\.bin not found: an OpenVINO IR needs its \.xml and \.bin side by side", _one_line(capsys))


def test_damaged_bin_gives_openvino_reason(tmp_path, ir, capsys):
    shutil.copy(ir, tmp_path / "frame.xml")
    (tmp_path / "frame.bin").write_bytes(b"")
    assert main(_demo(tmp_path / "frame.xml", "--labels", "a,b,c")) != 0
    line = _one_line(capsys)
    assert "core.cpp" not in line and re.search(r"cannot read model .*frame\.xml: .*bin file", line), line


def test_onnx_external_data_outside_its_folder(tmp_path, capsys):
    import onnx  # the 'train' extra, which the test venv installs
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((3, 3), np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../outside.bin"), ("offset", "0"), ("length", "36")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    (tmp_path / "outside.bin").write_bytes(np.ones(9, np.float32).tobytes())
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2], keepdims=0),
        helper.make_node("MatMul", ["m", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [weight],
    )
    (tmp_path / "m").mkdir()
    model = tmp_path / "m" / "model.onnx"
    model.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    assert onnx.load(str(model), load_external_data=False).graph.initializer[0].data_location == TensorProto.EXTERNAL
    assert main(_demo(model, "--labels", "a,b,c")) != 0
    line = _one_line(capsys)
    assert "core.cpp" not in line and re.search(r"outside\.bin.*outside the base directory", line), line


def test_ten_thousand_labels_are_cut_short(ir, capsys):
    labels = ",".join(f"class{i}" for i in range(10_000))
    assert main(_demo(ir, "--labels", labels)) != 0
    line = _one_line(capsys)
    assert "gives 3 scores but 10000 labels" in line and "(9990 more)" in line and len(line) < 600, len(line)
    dup = ",".join(["same"] * 10_000)
    assert main(_demo(ir, "--labels", dup)) != 0
    line = _one_line(capsys)
    assert "duplicate labels same in 10000 labels" in line and len(line) < 300, line


def test_full_temporary_folder(tmp_path, ir):
    """The plain model is copied into a temporary bundle: TMPDIR on a full disk is one line."""
    model = tmp_path / "model"
    model.mkdir()
    for suffix in (".xml", ".bin"):
        shutil.copy(ir.with_suffix(suffix), model / f"frame{suffix}")
    (model / "frame.bin").write_bytes((model / "frame.bin").read_bytes() + bytes(8192))  # past one page
    tmp = tmp_path / "tmp"
    argv = _demo(model / "frame.xml", "--labels", "a,b,c")
    run = run_full(argv, tmp, size_kb=8, cwd=tmp_path, env={"TMPDIR": str(tmp)})
    assert run.rc != 0
    line = run.one_line()
    assert re.search(rf"(temporary folder .*TMPDIR|{FULL})", line), line
    assert run.left == [], run.left
