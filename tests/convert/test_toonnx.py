"""IR -> ONNX without TensorFlow (fer_edge.convert.toonnx): exact, valid ONNX, any bundle, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import openvino as ov
import openvino.opset13 as ops
import pytest

from fer_edge.convert.kerasfile import convert_keras_file
from fer_edge.convert.toonnx import onnx_parity, random_inputs, to_onnx
from fer_edge.convert.toonnx.bundle import export_onnx_bundle
from fer_edge.core.errors import FerEdgeError
from fer_edge.runtime.bundle import load_bundle
from fer_edge.runtime.engine import EngineConfig, load_model
from fer_edge.runtime.ovcompat import save_ir
from tests.support.kerasfiles import face_crops, mini_xception
from tests.support.ovmodels import cascade_bundle, frame_bundle

ROOT = Path(__file__).resolve().parents[2]


def _c(a, dtype=np.float32):
    return ops.constant(np.asarray(a, dtype=dtype))


def _wide_ir() -> ov.Model:
    """Every operation family the writer covers, on a (N, 12, 12, 3) image input and a (N, 5) mask."""
    rng = np.random.default_rng(7)
    x = ops.parameter([-1, 12, 12, 3], np.float32, name="image")
    m = ops.parameter([-1, 5], np.float32, name="mask")
    t = ops.transpose(ops.gather(x, _c([2, 1, 0], np.int64), _c(3, np.int64)), _c([0, 3, 1, 2], np.int64))
    t = ops.multiply(ops.subtract(t, _c(100.0)), _c(1 / 60))
    t = ops.pad(t, _c([0, 0, 1, 0], np.int64), _c([0, 0, 2, 1], np.int64), "constant")  # 15 x 13
    c = ops.convolution(t, _c(rng.normal(size=(6, 3, 3, 3))), [2, 2], [0, 0], [0, 0], [1, 1], "same_upper")
    c = ops.prelu(ops.add(c, _c(rng.normal(size=(1, 6, 1, 1)))), _c(rng.uniform(0.1, 0.3, 6)))
    g = ops.group_convolution(c, _c(rng.normal(size=(6, 2, 1, 3, 3))), [1, 1], [1, 1], [1, 1], [2, 2], "explicit")
    g = ops.clamp(ops.elu(g, 0.7), -1.0, 4.0)
    a = ops.swish(g)
    b = ops.hswish(ops.mish(ops.gelu(g, "erf")))
    s = ops.concat([ops.sigmoid(a), ops.tanh(b), ops.relu(ops.maximum(a, b))], 1)
    s = ops.max_pool(
        ops.avg_pool(s, [1, 1], [0, 0], [1, 1], [2, 2], True, "floor", "same_upper"),
        [2, 2],
        [1, 1],
        [0, 0],
        [0, 0],
        [2, 2],
        "ceil",
        "explicit",
    ).output(0)
    pooled = ops.reduce_mean(s, _c([2, 3], np.int64), False)  # (N, 36)
    dense = ops.matmul(pooled, _c(rng.normal(size=(5, 36))), False, True)  # transpose_b
    flat = ops.reshape(ops.unsqueeze(dense, _c([1], np.int64)), _c([0, -1], np.int64), True)
    masked = ops.select(ops.greater(m, _c(0.5)), flat, ops.negative(ops.abs(flat)))
    summed = ops.reduce_sum(
        ops.squeeze(ops.unsqueeze(masked, _c([2], np.int64)), _c([2], np.int64)), _c([1], np.int64), True
    )
    out = ops.softmax(ops.divide(masked, ops.add(ops.sqrt(ops.multiply(summed, summed)), _c(1.0))), -1)
    out.output(0).get_tensor().set_names({"scores"})
    return ov.Model([out], [x, m], "wide")


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_every_covered_op_is_exact_and_valid_onnx(tmp_path, opset):
    xml = save_ir(_wide_ir(), tmp_path / "wide.xml")
    path = to_onnx(xml, tmp_path / "wide.onnx", opset=opset)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)  # types and shapes infer at this opset
    assert [i.name for i in model.graph.input] == ["image", "mask"] and model.graph.output[0].name == "scores"
    assert max(o.version for o in model.opset_import) == opset and model.ir_version == (7 if opset <= 13 else 8)
    agreement = onnx_parity(xml, path)
    assert agreement.max_abs_diff <= 1e-5 and agreement.samples == 8, agreement.as_dict()


@pytest.mark.parametrize("batch", [None, 2])
def test_shape_arithmetic_is_written_or_folded(tmp_path, batch):
    """Keras' RGB -> BGR as OpenVINO converts it (ShapeOf, Gather, Broadcast, ReverseSequence)."""
    x = ops.parameter([-1, 4, 5, 3], np.float32, name="image")
    first = ops.transpose(x, _c([0, 3, 1, 2], np.int64))
    shape = ops.shape_of(first, "i32")
    lengths = ops.broadcast(
        ops.gather(shape, _c([1], np.int64), _c(0, np.int64)), ops.gather(shape, _c([0], np.int64), _c(0, np.int64))
    )
    flipped = ops.reverse_sequence(first, lengths, 0, 1)
    xml = save_ir(ov.Model([ops.relu(flipped)], [x], "bgr"), tmp_path / "bgr.xml")
    path = to_onnx(xml, tmp_path / "bgr.onnx", batch=batch)
    kinds = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ("Shape" in kinds) is (batch is None) and "ReverseSequence" in kinds  # folded when static
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert onnx_parity(xml, path).max_abs_diff == 0.0


def test_default_model_architecture_is_exact_at_static_batch(tmp_path):
    mini_xception().save(tmp_path / "m.h5")
    model, _ = convert_keras_file(tmp_path / "m.h5")
    xml = save_ir(model, tmp_path / "m.xml")
    path = to_onnx(xml, tmp_path / "m.onnx", opset=13, batch=1)
    dims = [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 64, 64, 1]  # static: what the MYRIAD plugin needs
    crops = face_crops(size=64, count=12)[..., :1].astype(np.float32)
    agreement = onnx_parity(xml, path, [crops])
    assert agreement.samples == 12 and agreement.max_abs_diff <= 1e-5 and agreement.argmax_agreement == 1.0


def test_bundles_of_each_kind_export_and_run(tmp_path):
    for kind, make in (("frame", frame_bundle), ("cascade", cascade_bundle)):
        made, parity, inputs = export_onnx_bundle(make(tmp_path / kind).path, tmp_path / f"{kind}_onnx", batch=1)
        assert made.kind == kind and inputs == "random"
        assert all(p["max_abs_diff"] <= 1e-5 for p in parity.values()), parity
        assert made.provenance["export"]["opset"] == 13 and made.provenance["export"]["batch"] == 1
        for role, entry in made.models.items():
            assert entry.file == f"{role}.onnx"
            compiled = load_model(made.model_path(role), EngineConfig(precision="f32"))
            assert compiled.input_shape[0] == 1
            x = random_inputs(ov.Core().read_model(str(made.model_path(role))), 1)
            assert compiled(*x).shape[-1] == entry.output


def test_unsupported_op_and_bad_options_are_one_line(tmp_path):
    x = ops.parameter([-1, 4, 4, 3], np.float32, name="x")
    summed = ops.cumsum(x, _c(1, np.int64))  # no ONNX form in the writer
    xml = save_ir(ov.Model([summed], [x], "dyn"), tmp_path / "dyn.xml")
    with pytest.raises(FerEdgeError, match="operation CumSum") as err:
        to_onnx(xml, tmp_path / "dyn.onnx")
    assert "\n" not in str(err.value) and not (tmp_path / "dyn.onnx").exists()
    ok = frame_bundle(tmp_path / "b").path / "frame.xml"
    with pytest.raises(FerEdgeError, match="choose 11-17"):
        to_onnx(ok, tmp_path / "x.onnx", opset=18)
    with pytest.raises(FerEdgeError, match="batch size of 1 or more"):
        to_onnx(ok, tmp_path / "x.onnx", batch=0)


def _blocker(folder: Path) -> str:
    """A sitecustomize that makes TensorFlow, Keras and onnx unimportable: a runtime-only install."""
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras', 'onnx', 'tf2onnx', 'nncf'):\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\")\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    return str(folder)


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([_blocker(cwd / "site"), str(ROOT)]))
    return subprocess.run(
        [sys.executable, "-m", "fer_edge", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_readme_import_then_export_chain_in_a_runtime_only_install(tmp_path):
    """The README's `import keras ... --out runs/fer` then `export runs/fer --format onnx`, without TensorFlow."""
    mini_xception().save(tmp_path / "model.h5")
    readme = (ROOT / "README.md").read_text()
    steps = [
        "import keras model.h5 --labels fer2013 --gray --mean 0.5 --std 0.5 --out runs/fer",
        "export runs/fer --format onnx --batch 1 --out runs/fer_onnx",
    ]
    for step in steps:
        assert f"fer-edge {step}" in readme, step
        proc = _cli(step.split(), tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert "frame.onnx" in proc.stdout and "fer-edge demo --bundle runs/fer_onnx" in proc.stdout
    made = load_bundle(tmp_path / "runs/fer_onnx")
    assert made.models["frame"].file == "frame.onnx" and made.provenance["export"]["parity"]["frame"]["samples"] > 0


def test_export_in_a_runtime_only_install(tmp_path):
    """IR export (Keras) and bad options name the fix in one line without TensorFlow."""
    bundle = frame_bundle(tmp_path / "b").path
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["models"]["frame"]["keras"] = "frame.keras"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    (bundle / "frame.keras").write_bytes(b"never read: Keras is absent")
    for args, says in (
        ([str(bundle), "--out", "ir"], "fer-edge[train]"),
        ([str(bundle), "--format", "onnx", "--opset", "9"], "choose 11-17"),
    ):
        proc = _cli(["export", *args], tmp_path)
        lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("INFO ")]
        assert proc.returncode != 0 and len(lines) == 1 and says in lines[0], proc.stderr
    assert not (tmp_path / "ir").exists()
