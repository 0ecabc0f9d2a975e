"""The public Python API: light to import, the README's example runs, the same demo as the CLI.

Like the golden test, these run the default model and the sample video (fetched assets).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_is_light_and_names_resolve():
    code = (
        "import sys, fer_edge\n"
        "heavy = [m for m in ('openvino', 'tensorflow', 'keras', 'cv2') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert all(getattr(fer_edge, n) is not None for n in fer_edge.__all__)\n"
        "assert 'tensorflow' not in sys.modules\n"
        "try:\n"
        "    getattr(fer_edge, 'nope')\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "has no attribute 'nope'" in proc.stdout


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 11
    return code


@pytest.mark.slow
def test_readme_example_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", _readme_example()], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"50 frames at \d+ fps, faces in \d+", proc.stdout), proc.stdout
    assert (tmp_path / "runs" / "api" / "events.jsonl").is_file()


@pytest.mark.slow
def test_demo_via_api_and_cli_gives_identical_events(tmp_path):
    import fer_edge
    from fer_edge.cli import main

    assert (
        main(
            [
                "-q",
                "demo",
                "--infer-precision",
                "f32",
                "--max-frames",
                "60",
                "--no-show",
                "--out",
                str(tmp_path / "cli"),
            ]
        )
        == 0
    )
    options = fer_edge.demo_options(infer_precision="f32", max_frames=60)
    result = fer_edge.demo(fer_edge.open_bundle(), options=options, out=tmp_path / "api")
    cli = (tmp_path / "cli" / "events.jsonl").read_text()
    api = Path(result.reports[0].outputs["events"]).read_text()
    assert api == cli and len(cli.splitlines()) >= 60
    assert any(e["track"] is not None for e in fer_edge.read_events(tmp_path / "api" / "events.jsonl"))
