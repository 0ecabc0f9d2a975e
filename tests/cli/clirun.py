"""Run ``fer-edge`` in a subprocess as a user's shell would, optionally as a runtime-only install.

A runtime-only install (``pip install fer-edge``: numpy, OpenCV, OpenVINO, h5py, PyYAML, tqdm)
is emulated by a ``sitecustomize`` whose meta-path hook refuses the extras' packages, so the
check takes seconds instead of a fresh venv per run. ``FER_EDGE_RUNTIME_PYTHON`` names the
interpreter of a real runtime-only venv instead (``make runtime-check`` builds one); then no hook.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EXTRAS = ("tensorflow", "keras", "nncf", "sklearn", "keras_tuner", "ray", "matplotlib", "onnx", "tf2onnx", "skimage")
"""Top-level packages of the extras (train, optimize, cluster, synth): absent from a runtime-only install."""

_HOOK = f"""import sys
_BLOCKED = {set(EXTRAS)!r}
class _RuntimeOnly:
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named '{{name}}'", name=name)
        return None
sys.meta_path.insert(0, _RuntimeOnly())
"""


def runtime_python() -> str | None:
    """The interpreter of a real runtime-only venv, when ``make runtime-check`` gave one."""
    return os.environ.get("FER_EDGE_RUNTIME_PYTHON") or None


def cli(
    args: list[str], cwd: Path, *, runtime_only: bool = False, env: dict[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess:
    """``python -m fer_edge ARGS`` in ``cwd``; stderr is a pipe (not a terminal), as under systemd."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "FER_EDGE_LOG_EVERY"))}
    paths = [str(ROOT)]
    python = sys.executable
    if runtime_only:
        real = runtime_python()
        if real:
            python = real
        else:
            site = cwd / ".runtime-only-site"
            site.mkdir(exist_ok=True)
            (site / "sitecustomize.py").write_text(_HOOK)
            paths.insert(0, str(site))
    full["PYTHONPATH"] = os.pathsep.join([*paths, full.get("PYTHONPATH", "")])
    full.update(env or {})
    return subprocess.run(
        [python, "-m", "fer_edge", *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout
    )


def error_lines(stderr: str) -> list[str]:
    """stderr without log lines (INFO/WARNING/DEBUG ...): what a user reads as the error."""
    prefixes = ("INFO ", "DEBUG ", "WARNING ")
    return [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith(prefixes)]
