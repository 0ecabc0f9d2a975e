"""The words every benchmark report repeats: the machine lines and the footnote on what the
columns mean (Markdown, HTML and the terminal print the same text)."""

from __future__ import annotations

from typing import Any

FOOTNOTE = (
    "Latency rows: warm-up, then median, mean and 90th percentile of timed iterations at batch 1; "
    "FPS = 1000 / median. Throughput rows keep several requests in flight; FPS = completed inputs per "
    "second. Video rows `per frame`: the runtime on the video, a stage's ms per frame counting frames it "
    "skips as 0 (they add up to `video`); FPS = 1000 / mean, i.e. frames per second over the run. "
    "`per call`: one run of a stage that does not run every frame (detection). "
    "`infer` is the precision the plugin actually computed in."
)


def machine_lines(machine: dict[str, Any]) -> list[str]:
    """The machine record as short ``key: value`` lines."""
    versions = machine.get("versions", {}) or {}
    libs = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    cores = machine.get("cores")
    usable = machine.get("cores_usable")
    core_text = f"{usable} of {cores}" if usable and usable != cores else f"{cores}"
    lines = [
        f"CPU: {machine.get('cpu', '?')} ({core_text} cores, {machine.get('arch', '?')}), "
        f"{machine.get('memory_gb') or '?'} GB",
        f"ISA: {', '.join(machine.get('isa') or []) or 'none reported'}",
        f"OS: {machine.get('os', '?')}, Python {machine.get('python', '?')}",
        f"Libraries: {libs or '?'}",
    ]
    devices = machine.get("devices") or {}
    if devices:
        lines.append("OpenVINO devices: " + ", ".join(f"{k} ({v})" for k, v in devices.items()))
    if machine.get("tf_gpus") is not None:
        lines.append("TensorFlow GPUs: " + (", ".join(machine["tf_gpus"]) or "none (baseline on CPU)"))
    return lines
