"""Count the fuzz suites' cases per input class into ``benchmarks/results/fuzz_counts.json``.

The fuzz tests (``tests/robustness/test_fuzz_*.py``, ``tests/robustness/test_security.py``,
``tests/robustness/test_hostile_*.py``) count how each case ended; a plain ``pytest`` run keeps
the counts in memory only (tests never rewrite tracked files). This script runs them with
``FER_EDGE_FUZZ_COUNTS`` pointing at the results file, so the counts are merged there.

Usage::

    python benchmarks/fuzz_counts.py                 # all fuzz suites
    python benchmarks/fuzz_counts.py -k manifest     # extra pytest arguments pass through
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fuzz_counts.json"
SUITES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "robustness").glob("test_fuzz_*.py")) + [
    "tests/robustness/test_security.py",
    "tests/robustness/test_hostile_outputs.py",
    "tests/robustness/test_hostile_inputs.py",
]


def main(argv: list[str]) -> int:
    env = {**os.environ, "FER_EDGE_FUZZ_COUNTS": str(RESULTS)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITES, *argv]
    print(" ".join(cmd))
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
