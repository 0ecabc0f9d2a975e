"""The machine record of a benchmark: CPU, ISA flags, memory, OS, library versions, devices.

Nothing here imports TensorFlow: versions are read from the installed distributions'
metadata (``importlib.metadata``), and TensorFlow's GPU visibility is recorded only by the
baseline (:mod:`fer_edge.benchmark.baseline`), which has to import it anyway.

The ISA flags matter for reading numbers: OpenVINO's CPU plugin runs INT8 on VNNI/AMX and
infers in BF16 by default when the CPU has AVX512_BF16 or AMX, so the same model is 2-4x
faster on one x86 CPU than on another with the same core count.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fer_edge.benchmark.identity import host_label

log = logging.getLogger(__name__)

# /proc/cpuinfo flag -> the name people search for; order = roughly by CPU generation.
X86_ISA: dict[str, str] = {
    "sse4_2": "SSE4.2",
    "avx": "AVX",
    "avx2": "AVX2",
    "fma": "FMA",
    "avx512f": "AVX-512F",
    "avx512bw": "AVX-512BW",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "avx512_fp16": "AVX-512 FP16",
    "amx_tile": "AMX-TILE",
    "amx_int8": "AMX-INT8",
    "amx_bf16": "AMX-BF16",
    "amx_fp16": "AMX-FP16",
}
# ARM "Features" line (Raspberry Pi 4: asimd; Pi 5 / Cortex-A76: + asimddp, fphp).
ARM_ISA: dict[str, str] = {
    "neon": "NEON",
    "asimd": "NEON (ASIMD)",
    "asimdhp": "ASIMD FP16",
    "fphp": "FP16",
    "asimddp": "DOTPROD",
    "i8mm": "I8MM",
    "bf16": "BF16",
    "sve": "SVE",
    "sve2": "SVE2",
}

# Distribution names to try per library (first installed wins).
_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "fer_edge": ("fer-edge",),
    "openvino": ("openvino",),
    "nncf": ("nncf",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-aarch64", "tensorflow-macos", "tf-nightly"),
    "keras": ("keras",),
    "opencv": ("opencv-contrib-python-headless", "opencv-python-headless", "opencv-contrib-python", "opencv-python"),
    "numpy": ("numpy",),
}


@dataclass
class CpuInfo:
    """What ``/proc/cpuinfo`` says about the CPU."""

    model: str
    logical: int
    physical: int | None
    flags: tuple[str, ...]
    isa: tuple[str, ...]


@dataclass
class MachineRecord:
    """One benchmark machine: enough to tell why two reports differ.

    Attributes:
        cpu: CPU model name.
        cores: logical CPUs; ``cores_usable`` is what this process may use (containers pin fewer).
        physical_cores: physical cores when cpuinfo says, else None.
        isa: notable ISA extensions (``AVX-512 VNNI``, ``AMX-INT8``, ``AVX-512 BF16``, ``DOTPROD`` ...).
        memory_gb: total memory.
        os: distribution name and kernel.
        python: Python version.
        arch: machine architecture (``x86_64``, ``aarch64``).
        versions: fer-edge, OpenVINO, NNCF, TensorFlow, Keras, OpenCV, numpy (None = not installed).
        devices: OpenVINO device -> full name (``CPU``, ``GPU.0``, ``NPU``).
        tf_gpus: GPUs TensorFlow sees (filled by the baseline; None = not checked).
        host: the machine's column in a fleet report: ``--label`` or the host name.
        device_details: OpenVINO device -> what its plugin reports of architecture, driver and
            firmware (:data:`fer_edge.benchmark.identity.DEVICE_PROPERTIES`, lower-case keys).
    """

    cpu: str
    cores: int
    cores_usable: int
    physical_cores: int | None
    isa: list[str]
    memory_gb: float | None
    os: str
    python: str
    arch: str
    versions: dict[str, str | None]
    devices: dict[str, str] = field(default_factory=dict)
    tf_gpus: list[str] | None = None
    host: str = ""
    device_details: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line: CPU, cores, ISA highlights, OpenVINO version.

        Example:
            >>> machine_record(devices=False).summary()  # doctest: +SKIP
            'AMD EPYC (2 of 2 cores), AVX2, AVX-512F, AVX-512 VNNI, AVX-512 BF16; OpenVINO 2026.4.0'
        """
        notable = [i for i in self.isa if i not in ("SSE4.2", "AVX", "FMA", "AVX-512BW")]
        cores = (
            f"{self.cores_usable} of {self.cores} cores" if self.cores_usable != self.cores else f"{self.cores} cores"
        )
        return (
            f"{self.cpu} ({cores}), {', '.join(notable) or 'no vector extensions found'}; "
            f"OpenVINO {self.versions.get('openvino') or 'not installed'}"
        )


def parse_cpuinfo(text: str) -> CpuInfo:
    """Parse a ``/proc/cpuinfo`` text (x86 or ARM) into model, core counts and ISA names.

    Example:
        >>> info = parse_cpuinfo("processor : 0\\nmodel name : Xeon\\nflags : avx2 avx512f amx_int8\\n")
        >>> info.model, info.isa
        ('Xeon', ('AVX2', 'AVX-512F', 'AMX-INT8'))
    """
    model = ""
    board = ""
    logical = 0
    flags: list[str] = []
    arm = False
    cores: set[tuple[str, str]] = set()
    physical_id = core_id = None
    for raw in text.splitlines():
        if ":" not in raw:
            continue
        key, value = (s.strip() for s in raw.split(":", 1))
        key = key.lower()
        if key == "processor":
            logical += 1
        elif key == "model name" and not model:
            model = value
        elif key == "model" and not value.isdigit() and not board:
            board = value  # Raspberry Pi: "Raspberry Pi 5 Model B Rev 1.0"
        elif key in ("flags", "features") and not flags:
            flags = value.split()
            arm = key == "features"  # x86 says "flags", ARM says "Features"
        elif key == "physical id":
            physical_id = value
        elif key == "core id":
            core_id = value
            if physical_id is not None:
                cores.add((physical_id, core_id))
    table = ARM_ISA if arm else X86_ISA
    present = set(flags)
    isa = tuple(name for flag, name in table.items() if flag in present)
    if not model:
        model = board or platform.processor() or platform.machine() or "unknown CPU"
    elif board:
        model = f"{model} ({board})"
    return CpuInfo(model, logical, len(cores) or None, tuple(flags), isa)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def memory_gb(meminfo: str | None = None) -> float | None:
    """Total memory in GiB from ``/proc/meminfo`` text (None when unknown).

    Example:
        >>> memory_gb("MemTotal:       16384000 kB\\n")
        15.6
    """
    text = _read("/proc/meminfo") if meminfo is None else meminfo
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024**2, 1)
    return None


def os_name() -> str:
    """``PRETTY_NAME`` of ``/etc/os-release`` plus the kernel, or ``platform.platform()``."""
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return f"{line.split('=', 1)[1].strip().strip(chr(34))} (kernel {platform.release()})"
    return platform.platform()


def versions() -> dict[str, str | None]:
    """Installed versions of the libraries that decide speed, without importing any of them.

    Example:
        >>> versions()["openvino"]  # doctest: +SKIP
        '2026.4.0'
    """
    out: dict[str, str | None] = {}
    for name, dists in _DISTRIBUTIONS.items():
        out[name] = None
        for dist in dists:
            try:
                out[name] = md.version(dist)
                break
            except md.PackageNotFoundError:
                continue
    return out


def openvino_devices(details: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """OpenVINO device -> ``FULL_DEVICE_NAME`` (``{}`` when OpenVINO is missing or broken).

    Args:
        details: filled with each device's architecture, driver and firmware where reported.
    """
    from fer_edge.benchmark.identity import device_details

    try:
        from fer_edge.runtime.engine import core

        ov_core = core()
        names = {}
        for dev in ov_core.available_devices:
            info = device_details(ov_core, dev)
            names[dev] = info.get("full_device_name", dev)  # a plugin that can't answer is still present
            if details is not None:
                details[dev] = info
        return names
    except Exception as exc:  # noqa: BLE001 - the record is informative, never fatal
        log.warning("cannot list OpenVINO devices: %s", exc)
        return {}


def machine_record(*, cpuinfo: str | None = None, devices: bool = True, label: str | None = None) -> MachineRecord:
    """Describe this machine.

    Args:
        cpuinfo: a ``/proc/cpuinfo`` text to parse instead of the real one (tests, remote logs).
        devices: also ask OpenVINO for its devices' names, drivers and firmware.
        label: this machine's name in fleet reports (default: the host name).

    Example:
        >>> rec = machine_record()  # doctest: +SKIP
        >>> rec.isa  # e.g. ['AVX', 'AVX2', 'FMA', 'AVX-512F', ...] on an x86 server  # doctest: +SKIP
    """
    info = parse_cpuinfo(_read("/proc/cpuinfo") if cpuinfo is None else cpuinfo)
    logical = info.logical or os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = logical
    details: dict[str, dict[str, str]] = {}
    names = openvino_devices(details) if devices else {}
    return MachineRecord(
        cpu=info.model,
        cores=logical,
        cores_usable=usable,
        physical_cores=info.physical,
        isa=list(info.isa),
        memory_gb=memory_gb(),
        os=os_name(),
        python=platform.python_version(),
        arch=platform.machine(),
        versions=versions(),
        devices=names,
        host=host_label(label),
        device_details=details,
    )
