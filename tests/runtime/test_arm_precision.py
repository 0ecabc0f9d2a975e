"""The precision reported for a 64-bit ARM CPU is the one it computes in: an f16 hint on a core
without FP16 arithmetic (Cortex-A72, Raspberry Pi 4) runs f32, whatever OpenVINO says."""

from __future__ import annotations

import numpy as np
import pytest

from fer_edge.runtime import engine
from fer_edge.runtime.engine import EngineConfig, arm_fp16_arithmetic, inference_precision, load_model
from tests.support.ovmodels import frame_model, save

# /proc/cpuinfo "Features" lines of the two Pis (Raspberry Pi OS Bookworm, 64-bit kernel).
A72_FEATURES = "fp asimd evtstrm crc32 cpuid"  # Pi 4: ARMv8.0-A
A76_FEATURES = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"


def _cpuinfo(tmp_path, features: str | None) -> str:
    lines = ["processor\t: 0", "BogoMIPS\t: 108.00"]
    if features is not None:
        lines.append(f"Features\t: {features}")
    lines += ["CPU implementer\t: 0x41", "CPU part\t: 0xd08", ""]
    path = tmp_path / "cpuinfo"
    path.write_text("\n".join(lines))
    return str(path)


@pytest.fixture
def arm(monkeypatch, tmp_path):
    """This process on an aarch64 Linux host whose /proc/cpuinfo advertises the given features."""

    def on(features: str | None, hwcap: int | None = None) -> None:
        monkeypatch.setattr(engine.platform, "machine", lambda: "aarch64")
        monkeypatch.setattr(engine, "_CPUINFO", _cpuinfo(tmp_path, features))
        monkeypatch.setattr(engine, "_hwcap", lambda: hwcap)

    return on


def test_fp16_arithmetic_from_cpuinfo(arm):
    arm(A72_FEATURES)
    assert arm_fp16_arithmetic() is False
    arm(A76_FEATURES)
    assert arm_fp16_arithmetic() is True
    arm("fp asimd fphp cpuid")  # scalar FP16 without the vector half: the plugin's kernels need both
    assert arm_fp16_arithmetic() is False


def test_fp16_arithmetic_from_hwcap_without_a_features_line(arm):
    """QEMU user emulation shows the host's /proc/cpuinfo; the auxiliary vector still tells."""
    arm(None, hwcap=0b11 | (1 << 11))  # fp asimd cpuid
    assert arm_fp16_arithmetic() is False
    arm(None, hwcap=0b11 | (1 << 9) | (1 << 10))  # + fphp asimdhp
    assert arm_fp16_arithmetic() is True
    arm(None, hwcap=None)
    assert arm_fp16_arithmetic() is None


def test_not_arm_is_unknown(monkeypatch, tmp_path):
    monkeypatch.setattr(engine.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(engine, "_CPUINFO", _cpuinfo(tmp_path, A72_FEATURES))
    assert arm_fp16_arithmetic() is None


class _Op:
    def __init__(self, layer: str, precision: str) -> None:
        self._info = {"layerType": layer, "runtimePrecision": precision, "outputPrecisions": precision}

    def get_rt_info(self):
        return self._info


class _Compiled:
    """What OpenVINO's CPU plugin hands back for an f16-hinted model: f16 layers, the devices it ran on."""

    def __init__(self, devices: list[str], precision: str = "f16", runtime_model: bool = True) -> None:
        self.devices, self.precision, self.runtime_model = devices, precision, runtime_model

    def get_runtime_model(self):
        if not self.runtime_model:
            raise RuntimeError("no runtime model")
        ops = [_Op("Convolution", self.precision), _Op("Reorder", "f32"), _Op("FullyConnected", self.precision)]
        return type("RuntimeModel", (), {"get_ordered_ops": lambda _self: ops})()

    def get_property(self, name: str):
        if name == "EXECUTION_DEVICES":
            return self.devices
        if name == "INFERENCE_PRECISION_HINT":
            return self.precision
        raise RuntimeError(name)


def test_f16_on_a72_reports_f32(arm):
    arm(A72_FEATURES)
    assert inference_precision(_Compiled(["CPU"])) == "f32"
    assert inference_precision(_Compiled(["CPU"], runtime_model=False)) == "f32"  # the hint alone says f16 too


def test_f16_on_a76_stays_f16(arm):
    arm(A76_FEATURES)
    assert inference_precision(_Compiled(["CPU"])) == "f16"


def test_other_precisions_and_devices_untouched(arm):
    arm(A72_FEATURES)
    assert inference_precision(_Compiled(["MYRIAD"])) == "f16"  # the stick computes in f16 itself
    assert inference_precision(_Compiled([])) == "f16"  # no device named: nothing to correct with
    assert inference_precision(_Compiled(["CPU"], precision="i8")) == "int8"
    assert inference_precision(_Compiled(["CPU"], precision="f32")) == "f32"


def test_a_real_compiled_model_reports_its_device(arm, tmp_path):
    """The real plugin names the CPU in EXECUTION_DEVICES, so the correction reaches real models."""
    save(frame_model(32), tmp_path / "frame.xml")
    model = load_model(tmp_path / "frame.xml", EngineConfig(precision="f32"))
    assert engine._on_cpu(model.compiled)
    arm(A72_FEATURES)
    assert model.inference_precision == "f32"
    assert model(np.zeros((1, 32, 32, 3), np.float32)).shape[0] == 1
