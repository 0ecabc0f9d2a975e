"""The words every benchmark report repeats: the machine lines, the footnote on what the
columns mean (Markdown, HTML and the terminal print the same text) and the per-layer tables."""

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
        f"Host: {machine.get('host') or 'not recorded'}",
        f"CPU: {machine.get('cpu', '?')} ({core_text} cores, {machine.get('arch', '?')}), "
        f"{machine.get('memory_gb') or '?'} GB",
        f"ISA: {', '.join(machine.get('isa') or []) or 'none reported'}",
        f"OS: {machine.get('os', '?')}, Python {machine.get('python', '?')}",
        f"Libraries: {libs or '?'}",
    ]
    devices = machine.get("devices") or {}
    if devices:
        lines.append("OpenVINO devices: " + ", ".join(f"{k} ({v})" for k, v in devices.items()))
    for dev, info in (machine.get("device_details") or {}).items():
        extra = {k: v for k, v in info.items() if k != "full_device_name"} if isinstance(info, dict) else {}
        if extra:
            lines.append(f"{dev}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in extra.items()))
    if machine.get("tf_gpus") is not None:
        lines.append("TensorFlow GPUs: " + (", ".join(machine["tf_gpus"]) or "none (baseline on CPU)"))
    return lines


def run_lines(settings: dict[str, Any]) -> list[str]:
    """What was measured and how: machine label, bundles (hash, precisions), hints, detector.

    Fields an older report lacks read ``not recorded``.
    """
    missing = "not recorded"
    lines = [f"Machine label: {settings.get('label') or missing}"]
    for b in settings.get("bundle_info") or []:
        if not isinstance(b, dict):
            continue
        sha = str(b.get("sha256") or missing)[:12]
        precisions = b.get("precisions") if isinstance(b.get("precisions"), dict) else {}
        carried = "; ".join(
            f"{role}: {', '.join(map(str, p))}" for role, p in precisions.items() if isinstance(p, list)
        )
        lines.append(f"Bundle {b.get('name', '?')}: sha256 {sha}, precisions {carried or missing}")
    if "bundle_info" not in settings:
        lines.append(f"Bundles: {', '.join(map(str, settings.get('bundles') or [])) or '?'} (hash {missing})")
    hints = settings.get("hints")
    lines.append(f"Inference precision hints: {', '.join(map(str, hints)) if isinstance(hints, list) else missing}")
    if settings.get("source") is not None or "detector" in settings:
        lines.append(f"Face detector (video rows): {settings.get('detector') or missing}")
    return lines


def layer_tables(profiles: list[dict[str, Any]]) -> list[str]:
    """Markdown: per model and precision, its slowest layers (``--per-layer``); nothing when none.

    ``exec`` is the kernel the plugin ran: an ``I8``/``U8`` in it (any case) means an INT8 kernel ran.
    """
    if not profiles:
        return []
    out = [
        "## Per-layer counters",
        "",
        "Slowest layers per model and precision: mean real time per sync inference from the plugin's "
        "counters (PERF_COUNT, as benchmark_app -pc), measured apart from the timed rows. `exec` is the "
        "kernel that ran (`I8` or `U8` in it, any case: an INT8 kernel).",
    ]
    for p in profiles:
        shown = sum(layer["ms"] for layer in p["layers"])
        out += [
            "",
            f"### {p['model']} {p['stage']} {p['precision']} {p['device']} (hint {p['hint']}): "
            f"{p['total_ms']:.3f} ms over all layers, {p['iterations']} inferences",
            "",
            "| layer | type | exec | ms | share |",
            "| --- | --- | --- | ---: | ---: |",
        ]
        for layer in p["layers"]:
            share = 100.0 * layer["ms"] / p["total_ms"] if p["total_ms"] else 0.0
            name = str(layer["name"]).replace("|", "\\|")
            out.append(f"| {name} | {layer['type']} | {layer['exec_type']} | {layer['ms']:.4f} | {share:.1f}% |")
        if p["total_ms"]:
            out.append(f"| (shown) | | | {shown:.4f} | {100.0 * shown / p['total_ms']:.1f}% |")
    return out
