"""What the SIGKILL harness (``tests/support/interrupt.py``) checks in an output folder.

A file under its final name must parse and equal the uninterrupted run's; ``compare`` tells two
finished runs apart by content, not by wall-clock facts (see the harness' docstring).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TEMP_MARKERS = (".tmp-", ".partial", ".part-", ".old-")
TFEVENTS = "events.out.tfevents."

# A timing, by rule rather than by today's columns: a Markdown/CSV column whose header names one
# ("seconds", "ms, f32 hint", "speed-up, default hint", "fps", "latency ...") and a JSON key made of
# such words ("latency_f32_ms", "speedup_default", "seconds") hold wall-clock facts, masked.
TIMING_HEADER = re.compile(r"\b(ms|seconds?|latency|speed-?ups?|fps|clips per min)\b", re.IGNORECASE)
TIMING_KEY = re.compile(r"(^|_)(ms|seconds|latency|speedup|fps)(_|$)")
_MD_SEPARATOR = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$")
MASK = "<timing>"


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def mask_timing_columns(text: str) -> str:
    r"""Every Markdown table's cells under a timing header become ``<timing>``.

    Example:
        >>> mask_timing_columns("| fold | seconds |\n|---|---|\n| 0 | 12.3 |\n")
        '| fold | seconds |\n|---|---|\n| 0 | <timing> |\n'
    """
    lines = text.split("\n")
    timing: set[int] = set()
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("|"):
            timing = set()
        elif i + 1 < len(lines) and _MD_SEPARATOR.match(lines[i + 1].strip()):
            timing = {j for j, cell in enumerate(_cells(line)) if TIMING_HEADER.search(cell)}
        elif timing and not _MD_SEPARATOR.match(line.strip()):
            cells = _cells(line)
            lines[i] = "| " + " | ".join(MASK if j in timing else c for j, c in enumerate(cells)) + " |"
    return "\n".join(lines)


def mask_timing_csv(text: str) -> str:
    """A CSV's columns whose header names a timing become ``<timing>`` (a file without such a header is unchanged)."""
    rows = list(csv.reader(io.StringIO(text)))
    timing = {j for j, cell in enumerate(rows[0]) if TIMING_HEADER.search(cell)} if rows else set()
    if not timing:
        return text
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [rows[0]] + [[MASK if j in timing else c for j, c in enumerate(row)] for row in rows[1:]]
    )
    return out.getvalue()


@dataclass
class Stage:
    """How to prepare inputs for a stage, run it into a folder, and what varies run to run.

    Attributes:
        name: stage name (``--stage``).
        prepare: builds the inputs under the work folder.
        command: ``(work, out) -> argv`` of ``fer-edge``.
        volatile: JSON keys holding other run-to-run facts (dropped when comparing); keys that
            name a timing (:data:`TIMING_KEY`) are dropped in every stage.
        masks: ``(file name ending, regex)`` pairs; matches are masked (per line) before comparing.
            Timing columns of Markdown tables and CSV files are masked in every stage.
        env: extra environment variables.
    """

    name: str
    prepare: Callable[[Path], None]
    command: Callable[[Path, Path], list[str]]  # (work, out) -> argv
    volatile: tuple[str, ...] = ()
    masks: tuple[tuple[str, str], ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def _is_temp(path: Path) -> bool:
    return any(m in part or part.endswith(".tmp") for part in path.parts for m in TEMP_MARKERS)


def _check_keras(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
        if bad is not None:
            raise ValueError(f"member {bad} is damaged")
        if "config.json" not in z.namelist():
            raise ValueError("no config.json")


def _check_csv(path: Path) -> None:
    import csv

    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        raise ValueError("last line is cut")
    widths = {len(row) for row in csv.reader(io.StringIO(text)) if row}
    if len(widths) > 1:
        raise ValueError(f"rows of {sorted(widths)} fields")


def check_complete_files(out: Path) -> list[str]:
    """Problems with files under final names: each must be whole (parse/open/decode)."""
    import cv2
    import numpy as np

    problems = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and not _is_temp(p.relative_to(out))):
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".jsonl":
                for line in path.read_text(encoding="utf-8").splitlines():
                    json.loads(line)
            elif path.suffix in (".png", ".jpg"):
                if cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_UNCHANGED) is None:
                    raise ValueError("does not decode")
            elif path.suffix == ".csv":
                _check_csv(path)
            elif path.suffix == ".h5":
                import h5py

                with h5py.File(path, "r") as f:
                    list(f.keys())
            elif path.suffix == ".keras":
                _check_keras(path)
            elif path.suffix == ".xml" and path.with_suffix(".bin").exists():
                import openvino as ov

                ov.Core().read_model(str(path))
        except Exception as exc:  # noqa: BLE001 - any failure is a half-written file
            problems.append(f"{path.relative_to(out)}: {type(exc).__name__}: {str(exc)[:100]}")
    return problems


def _strip(data, volatile: tuple[str, ...]):
    if isinstance(data, dict):
        return {k: _strip(v, volatile) for k, v in data.items() if k not in volatile and not TIMING_KEY.search(k)}
    if isinstance(data, list):
        return [_strip(v, volatile) for v in data]
    return data


def _h5_digest(source) -> str:
    """Attributes and datasets (dtype, shape, values) of an HDF5 file, not its byte layout."""
    import h5py
    import numpy as np

    digest = hashlib.sha256()
    with h5py.File(source, "r") as f:

        def visit(name, obj):
            digest.update(name.encode())
            for key in sorted(obj.attrs):
                digest.update(f"{key}={np.asarray(obj.attrs[key]).tolist()!r}".encode())
            if isinstance(obj, h5py.Dataset):
                value = obj[()]
                digest.update(f"{obj.dtype}{obj.shape}".encode())
                digest.update(
                    repr(value.tolist()).encode() if value.dtype == object else np.ascontiguousarray(value).tobytes()
                )

        visit("/", f)
        f.visititems(visit)
    return digest.hexdigest()


def _without_shared_ids(config):
    """Keras writes ``shared_object_id`` (a Python ``id()``) only where one object, e.g. a dtype
    policy, is shared by several layers: a model trained in this process has them, the same
    model loaded from disk does not. Drop them; the rest of the config must match."""
    if isinstance(config, dict):
        return {k: _without_shared_ids(v) for k, v in config.items() if k != "shared_object_id"}
    if isinstance(config, list):
        return [_without_shared_ids(v) for v in config]
    return config


def _keras_digest(path: Path) -> str:
    """Members of a ``.keras`` zip; ``metadata.json`` without its save date, weights by HDF5 content."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            data = z.read(name)
            if name == "metadata.json":
                meta = json.loads(data)
                meta.pop("date_saved", None)
                data = json.dumps(meta, sort_keys=True).encode()
            elif name == "config.json":
                data = json.dumps(_without_shared_ids(json.loads(data)), sort_keys=True).encode()
            elif name.endswith(".h5"):
                data = _h5_digest(io.BytesIO(data)).encode()
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def digest(path: Path, stage: Stage) -> str:
    if path.name.startswith(TFEVENTS):
        return "tfevents"  # wall times inside; compared by count (see _listing)
    if path.suffix in (".json", ".jsonl"):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            items = [json.loads(text)]
        else:
            items = [json.loads(line) for line in text.splitlines()]
        text = json.dumps([_strip(i, stage.volatile) for i in items], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
    if path.suffix == ".h5":
        return _h5_digest(path)
    if path.suffix == ".keras":
        return _keras_digest(path)
    masks = [pattern for ending, pattern in stage.masks if path.name.endswith(ending)]
    if masks or path.suffix in (".md", ".csv"):
        text = path.read_text(encoding="utf-8")
        text = mask_timing_columns(text) if path.suffix == ".md" else text
        text = mask_timing_csv(text) if path.suffix == ".csv" else text
        for pattern in masks:
            text = re.sub(pattern, "<masked>", text, flags=re.MULTILINE)
        return hashlib.sha256(text.encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(root: Path) -> dict[str, Path]:
    """Final-named files by relative path; TensorBoard event files numbered per folder."""
    out: dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or _is_temp(rel):
            continue
        key = rel.as_posix()
        if p.name.startswith(TFEVENTS):
            n = sum(1 for k in out if k.startswith(f"{rel.parent.as_posix()}/{TFEVENTS}"))
            key = f"{rel.parent.as_posix()}/{TFEVENTS}#{n}"
        out[key] = p
    return out


def compare(ref: Path, run: Path, stage: Stage | tuple[str, ...]) -> dict[str, list[str]]:
    """Files only in one tree, and files whose content differs."""
    if not isinstance(stage, Stage):
        stage = Stage("custom", lambda work: None, lambda work, out: [], volatile=tuple(stage))
    a, b = listing(ref), listing(run)
    differ = [k for k in sorted(set(a) & set(b)) if digest(a[k], stage) != digest(b[k], stage)]
    return {"only_reference": sorted(set(a) - set(b)), "only_interrupted": sorted(set(b) - set(a)), "differ": differ}


def stale_files(ref: Path, out: Path, stage: Stage) -> list[str]:
    """Final-named files of an interrupted run whose content is not (yet) the final content.

    Outputs are deterministic, so a file under its final name must already equal the
    uninterrupted run's; anything else is a partial or stale file that looks complete.
    """
    a, b = listing(ref), listing(out)
    problems = []
    for key, path in b.items():
        if key not in a:
            problems.append(f"{key}: not an output of the uninterrupted run")
            continue
        try:
            if digest(path, stage) != digest(a[key], stage):
                problems.append(f"{key}: differs from the final content")
        except Exception as exc:  # noqa: BLE001 - unreadable: half-written
            problems.append(f"{key}: {type(exc).__name__}: {str(exc)[:100]}")
    return problems
