#!/usr/bin/env python3
"""Which OpenVINO runtime and device combination does this machine have?

Runs under any Python >= 3.7 and any OpenVINO (2021.4 and 2022.3 with MYRIAD, or a current
release with the ARM/x86 CPU plugin), imports nothing from fer-edge, and prints one verdict with
the next command. Exit status: 0 = a usable combination, 1 = something to fix.

    python3 check_runtime.py            # human-readable
    python3 check_runtime.py --json     # the facts and the verdict as JSON
"""

import glob
import json
import os
import platform
import shutil
import sys

# Neural Compute Stick 2 (Myriad X) USB ids: unbooted 03e7:2485, booted by the runtime 03e7:f63b.
NCS2_USB_IDS = {("03e7", "2485"), ("03e7", "f63b")}
MYRIAD_LAST = (2022, 3)  # MYRIAD was removed in OpenVINO 2023.0


def _version_tuple(text):
    parts = []
    for piece in text.replace("-", ".").split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    while len(parts) < 2:
        parts.append(0)
    return tuple(parts)


def usb_ncs2(root="/sys/bus/usb/devices"):
    """True when a Neural Compute Stick 2 is plugged in (read from sysfs, no lsusb needed)."""
    for dev in glob.glob(os.path.join(root, "*")):
        try:
            with open(os.path.join(dev, "idVendor")) as fh:
                vendor = fh.read().strip().lower()
            with open(os.path.join(dev, "idProduct")) as fh:
                product = fh.read().strip().lower()
        except OSError:
            continue
        if (vendor, product) in NCS2_USB_IDS:
            return True
    return False


def openvino_facts():
    """OpenVINO version and devices, for both the 2022.3 and the current Python API."""
    facts = {"openvino": None, "devices": {}, "myriad_plugin": None, "error": None}
    try:
        try:
            from openvino.runtime import Core, get_version  # 2022.1 .. 2025
        except ImportError:
            try:
                from openvino import Core, get_version  # 2026+
            except ImportError:  # 2021.4: the Inference Engine API (the Pi's last MYRIAD build)
                from openvino.inference_engine import IECore as Core
                from openvino.inference_engine import get_version
        facts["openvino"] = get_version().split("-")[0]
        core = Core()
        for dev in core.available_devices:
            try:
                ask = getattr(core, "get_property", None) or core.get_metric  # 2021.4: get_metric
                facts["devices"][dev] = str(ask(dev, "FULL_DEVICE_NAME"))
            except Exception:  # noqa: BLE001 - a device that cannot say its name is still there
                facts["devices"][dev] = dev
        try:  # loads the plugin library: in 2021.4.2 (pip, Raspbian) and Intel's 2022.3 x86 archive
            found = core.get_versions("MYRIAD")
            facts["myriad_plugin"] = " ".join(str(v.build_number) for v in found.values()) or "yes"
        except Exception as exc:  # noqa: BLE001 - "not registered" / cannot load (libusb missing)
            facts["myriad_plugin"] = None
            if "libusb" in str(exc):
                facts["error"] = "the MYRIAD plugin cannot load: libusb-1.0 is missing (sudo apt install libusb-1.0-0)"
    except ImportError as exc:
        facts["error"] = f"OpenVINO is not installed in this Python ({exc})"
    except Exception as exc:  # noqa: BLE001 - a broken install is a finding, not a crash
        facts["error"] = f"OpenVINO is installed but fails: {str(exc).splitlines()[0] if str(exc) else exc}"
    return facts


def gather():
    """Every fact the verdict needs."""
    libc = platform.libc_ver()
    facts = {
        "python": platform.python_version(),
        "python_exe": sys.executable,
        "arch": platform.machine(),
        "glibc": libc[1] if libc[0] == "glibc" else None,
        "ncs2_plugged": usb_ncs2(),
    }
    facts.update(openvino_facts())
    try:
        import fer_edge  # noqa: F401

        facts["fer_edge"] = getattr(fer_edge, "__version__", "installed")
    except Exception:  # noqa: BLE001
        facts["fer_edge"] = None
    # The command to name in the next step: on PATH, else next to this Python (a venv not activated).
    beside = os.path.join(os.path.dirname(sys.executable), "fer-edge")
    on_path = shutil.which("fer-edge")
    facts["fer_edge_cmd"] = "fer-edge" if on_path and os.path.realpath(on_path) == os.path.realpath(beside) else beside
    return facts


NCS2_KIT = "install-ncs2.sh (OpenVINO 2021.4.2: pip on x86, the Raspbian archive or a container on a Pi)"
EXPORT = "fer-edge export BUNDLE --batch 1 --format onnx --out BUNDLE_ONNX (on the PC with fer-edge)"


def diagnose(facts):
    """(ok, verdict, next step) for a set of facts. Pure: tested with made-up facts."""
    ov = facts.get("openvino")
    devices = facts.get("devices") or {}
    myriad = [d for d in devices if d.startswith("MYRIAD")]
    plugged = facts.get("ncs2_plugged")
    cmd = facts.get("fer_edge_cmd") or "fer-edge"
    if ov is None:
        if plugged:
            return (
                False,
                "an NCS2 is plugged in but this Python has no OpenVINO ({})".format(facts.get("error")),
                "run " + NCS2_KIT + ", then: ~/fer-edge-ncs2/run.sh check_runtime.py",
            )
        return (
            False,
            facts.get("error") or "OpenVINO is not installed",
            "run install.sh (current OpenVINO, CPU) or " + NCS2_KIT,
        )
    old = _version_tuple(ov) <= MYRIAD_LAST
    run_ncs2 = f"{cmd} demo --device MYRIAD --bundle BUNDLE_ONNX --source 0 --no-show --out runs/ncs2"
    if myriad:
        step = run_ncs2 if facts.get("fer_edge") else "install fer-edge here with " + NCS2_KIT
        return (
            True,
            f"OpenVINO {ov} with MYRIAD (Neural Compute Stick 2): {devices[myriad[0]]}",
            f"{step}; BUNDLE_ONNX from: {EXPORT}",
        )
    if old and not facts.get("myriad_plugin") and "libusb" in (facts.get("error") or ""):
        return (False, facts["error"], "then: " + run_ncs2)
    if old and not facts.get("myriad_plugin"):
        verdict = "OpenVINO {} has no MYRIAD plugin (the openvino pip wheels lack it){}".format(
            ov, "; an NCS2 is on USB" if plugged else ""
        )
        return (
            not plugged,
            verdict + ("" if plugged else ": CPU only ({})".format(", ".join(devices))),
            "for the stick: " + NCS2_KIT,
        )
    if old and plugged:
        return (
            False,
            f"OpenVINO {ov} has the MYRIAD plugin and an NCS2 is on USB, but the runtime does not see it",
            "install the udev rules (install-ncs2.sh does), re-plug the stick, add your user to "
            "the 'users' group and log in again",
        )
    if old:
        return (
            True,
            "OpenVINO {} with the MYRIAD plugin, no NCS2 plugged in: CPU only ({})".format(ov, ", ".join(devices)),
            "plug the Neural Compute Stick 2 in, then: " + run_ncs2,
        )
    if plugged:
        return (
            False,
            f"an NCS2 is plugged in but OpenVINO {ov} has no MYRIAD plugin (removed in 2023.0)",
            "use the OpenVINO 2021.4.2 environment: "
            + NCS2_KIT
            + ", then ~/fer-edge-ncs2/run.sh "
            + run_ncs2.replace(cmd, "fer-edge", 1),
        )
    if facts.get("fer_edge") is None:
        return (
            False,
            "OpenVINO {} ({}) is here but fer-edge is not installed in this Python".format(
                ov, ", ".join(devices) or "no devices"
            ),
            "run install.sh",
        )
    extra = [d for d in devices if not d.startswith("CPU")]
    where = "CPU" + (" and " + ", ".join(extra) if extra else "")
    return (
        True,
        "OpenVINO {} with fer-edge {} on {} ({})".format(ov, facts["fer_edge"], where, facts.get("arch")),
        cmd + " demo --source 0 --no-show --out runs/camera" + (" --device " + extra[0] if extra else ""),
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    facts = gather()
    ok, verdict, step = diagnose(facts)
    if "--json" in argv:
        print(json.dumps({"facts": facts, "ok": ok, "verdict": verdict, "next": step}, indent=2))
    else:
        print(
            "Python {} ({}), {}, glibc {}".format(
                facts["python"], facts["python_exe"], facts["arch"], facts["glibc"] or "?"
            )
        )
        print(
            "OpenVINO: {}; devices: {}".format(
                facts["openvino"] or "none", ", ".join(f"{k} ({v})" for k, v in facts["devices"].items()) or "none"
            )
        )
        print("Neural Compute Stick 2 on USB: {}".format("yes" if facts["ncs2_plugged"] else "no"))
        print(("OK: " if ok else "FIX: ") + verdict)
        print("next: " + step)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
