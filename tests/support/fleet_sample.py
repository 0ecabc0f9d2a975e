"""The sample fleet report in docs/fleet-sample/: the default model benchmarked on a loopback Ray
cluster of two nodes, merged into one report.

The two "machines" are honestly two Ray node processes on this one machine (one CPU each, in a
private network namespace whose only interface is loopback, see tests/support/raycluster.py),
so the columns differ only by noise and by sharing the CPU: the report shows the format, not a
comparison of hardware. For a real one, start ``ray start`` on your own machines (docs/fleet.md).

    nice -n 5 .venv/bin/python -m tests.support.fleet_sample --out docs/fleet-sample
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from fer_edge.convert.defaults import default_bundle, sample_video
from tests.support.raycluster import LoopbackCluster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/fleet-sample")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    bundle, video = default_bundle(), sample_video()  # fetched here, before the namespace
    cluster = LoopbackCluster().start()
    try:
        with tempfile.TemporaryDirectory(prefix="fleet-sample-") as tmp:
            run = Path(tmp) / "fleet"
            command = [
                sys.executable, "-m", "fer_edge", "benchmark", str(bundle),
                "--executor", f"ray={cluster.address}", "--nodes", "all",
                "--source", str(video), "--frames", str(args.frames), "--iterations", str(args.iterations),
                "--no-throughput", "--baseline", "none", "--out", str(run),
            ]  # fmt: skip
            done = cluster.run(command, timeout=1200)
            print(done.stdout)
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            for name in ("fleet.html", "fleet.md", "fleet.json"):
                text = (run / name).read_text().replace(str(run), "runs/fleet").replace(tmp, "/tmp")
                text = text.replace(str(Path.home()), "~")
                (out / name).write_text(text)
    finally:
        cluster.stop()
    shutil.rmtree(Path(args.out) / "nodes", ignore_errors=True)
    print(f"sample fleet report in {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
