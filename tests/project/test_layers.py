"""The layers of docs/architecture.md, checked by the import-linter contracts in pyproject.toml.

The contracts read every import statement, function-level ones included, so they replace the
per-package "imports no TensorFlow" subprocess tests; one fresh interpreter still checks what
static analysis cannot see (``importlib``/``require`` calls and code run by ``list_models`` and
``machine_record``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# `make lint` checks every contract; these are the ones the runtime's install depends on.
RUNTIME_CONTRACTS = ("runtime", "wings", "tf-free-convert", "tf-free-data", "tf-free-benchmark")


def _lint_imports(cwd: Path, config: Path, contracts: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(config)!r}, limit_to_contracts={contracts!r}, "
        "no_cache=True, no_logo=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(cwd)},
    )


def test_runtime_layer_contracts_hold():
    proc = _lint_imports(ROOT, ROOT / "pyproject.toml", RUNTIME_CONTRACTS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(" KEPT") == len(RUNTIME_CONTRACTS), proc.stdout


def test_contract_sees_function_level_imports(tmp_path):
    """A forbidden import inside a function, or one reached through another module, breaks it."""
    pkg = tmp_path / "layered"
    (pkg / "runtime").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "runtime" / "__init__.py").write_text("")
    (pkg / "runtime" / "engine.py").write_text("def run():\n    from layered import helpers\n")
    (pkg / "helpers.py").write_text("def fit():\n    import layered.train\n")
    (pkg / "train.py").write_text("")
    config = tmp_path / ".importlinter"
    config.write_text(
        "[importlinter]\nroot_package = layered\n\n"
        "[importlinter:contract:runtime]\nname = runtime stays small\ntype = forbidden\n"
        "source_modules = layered.runtime\nforbidden_modules = layered.train\n"
    )
    proc = _lint_imports(tmp_path, config)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "layered.runtime.engine -> layered.helpers" in proc.stdout, proc.stdout
    assert "layered.helpers -> layered.train" in proc.stdout, proc.stdout
    (pkg / "helpers.py").write_text("def fit():\n    pass\n")
    proc = _lint_imports(tmp_path, config)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_runtime_loads_no_tensorflow_in_a_fresh_interpreter():
    """What the contracts cannot see: dynamic imports while importing and running the TF-free parts."""
    code = (
        "import importlib, pkgutil, sys, fer_edge.core, fer_edge.runtime\n"
        "for wing in (fer_edge.core, fer_edge.runtime):\n"
        "    for m in pkgutil.walk_packages(wing.__path__, wing.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "import fer_edge.data.store, fer_edge.data.augment, fer_edge.data.neutral, fer_edge.convert.kerasfile\n"
        "import fer_edge.benchmark.report, fer_edge.benchmark.html, fer_edge.benchmark.runner\n"
        "from fer_edge.benchmark.machine import machine_record; machine_record()\n"
        "from fer_edge.models import list_models; list_models()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'nncf'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
