"""The ``preprocess`` stage: detect, track, crop and store every clip, then trim neutral frames.

Per clip (thesis section 3.2.1): find the face with Haar in the first ``detect_frames``
frames, follow it with an OpenCV tracker (re-detecting when the tracker loses it), extend the
box 10 px vertically, square it, resize to ``size`` and store the *full* tracked sequence as
lossless PNG; then compute a per-frame intensity and Algorithm 1's kept span (:func:`neutral.trim`).

The trimming signal is the thesis' one when ``au_dir`` is given: the mean OpenFace ``AUxx_r``
intensity without AU45 (section 3.2.1). A clip without its CSV is then an *error* (listed in
``summary.json`` under ``failed`` and ``missing_au_csv``, left out of training), unless a
built-in estimator is chosen explicitly (``intensity: flow`` / ``diff``), which then stands in
for the missing CSVs. Without ``au_dir`` the built-in ``flow`` estimator is used.

Algorithm 1's anomalies (maximum within the last 20 frames) were "manually reworked" in the
thesis; here they are listed for review in ``review/index.json`` with one contact sheet per
clip (``review/<clip>.png``), and training leaves them out unless told otherwise
(``data.anomalies`` of a recipe).

Output layout (``out``)::

    clips/<subject>_<emotion>/000.png ...   full tracked sequence (kept span in the index,
                                            so a user can re-trim without re-tracking)
    records/<subject>_<emotion>.json        per-clip completion marker, written last
    index.jsonl                             one record per clip, dataset order
    summary.json                            counts, problems, anomalies, lengths, config
    clip_lengths.png                        lengths before/after trimming (thesis fig. 3.4)
    review/index.json, review/<clip>.png    Algorithm 1's anomalies and their contact sheets

Resumable: a clip whose marker exists with the same parameters and the same source (size and
mtime) is skipped, so a rerun does nothing; a killed run never leaves a marker for a half clip
(frames are written to a temporary folder and renamed, the marker after them). Failed clips
get a marker too (with the error) and are retried only when their source or the parameters
change. Index, summary and plot are rewritten only when their content changes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fer_edge.core.config import coerce_fields
from fer_edge.core.errors import FerEdgeError, unknown_choice
from fer_edge.core.fileio import read_json, read_jsonl
from fer_edge.core.labels import THESIS
from fer_edge.core.outputs import mark
from fer_edge.data.bu4dfe import ClipEntry, DatasetIndex, index_bu4dfe, list_frames
from fer_edge.data.clipwork import marker_path, safe_name, source_stamp
from fer_edge.data.indexcheck import check_record

log = logging.getLogger(__name__)

FORMAT = 1
DATASETS = ("bu4dfe",)


@dataclass(frozen=True)
class PreprocessConfig:
    """Settings of the stage (CLI > recipe file > these defaults).

    Attributes:
        dataset: layout of the root; ``"bu4dfe"`` (videos or frame folders).
        tracker: ``csrt``, ``kcf``, ``medianflow`` (thesis), ``mosse`` or ``mil``.
        size: side of the stored face crops (160 in the thesis), 32-1024.
        pad_y: pixels added to the box vertically (10 in the thesis).
        detect_frames: look for a face in this many first frames before giving up.
        exclude: subject ids to leave out (the thesis leaves out ``F016``).
        au_dir: folder of OpenFace 2.x ``FeatureExtraction`` CSVs (``<clip>.csv``); ``None``
            uses the built-in estimator.
        intensity: ``None`` (default: ``openface`` when ``au_dir`` is given, else ``flow``),
            ``"openface"`` (every clip needs its CSV), or a built-in estimator ``"flow"`` /
            ``"diff"`` (with ``au_dir``: used only for clips without a CSV).
        workers: processes working on clips in parallel (>= 1).
        executor: ``local`` (``workers`` processes here) or ``ray[=ADDRESS]``: chunks of clips as
            Ray tasks (:mod:`fer_edge.cluster`).
        plot: write ``clip_lengths.png`` (needs matplotlib, the ``train`` extra).
        labels: label set of the dataset.
        detector: face detector (``haar``, the thesis' choice; ``blazeface``, ``blazeface-full``).
    """

    dataset: str = "bu4dfe"
    tracker: str = "medianflow"
    size: int = 160
    pad_y: int = 10
    detect_frames: int = 10
    exclude: tuple[str, ...] = ()
    au_dir: str | None = None
    intensity: str | None = None
    workers: int = 1
    executor: str = "local"
    plot: bool = True
    labels: tuple[str, ...] = THESIS
    detector: str = "haar"

    def __post_init__(self) -> None:
        coerce_fields(self)  # CLI, recipe (data.preprocess) and Python callers alike
        from fer_edge.data.intensity import METHODS
        from fer_edge.runtime.faces.detect import DETECTORS
        from fer_edge.runtime.faces.track import TRACKERS

        for name, value, known in (
            ("dataset", self.dataset, DATASETS),
            ("tracker", self.tracker, TRACKERS),
            ("intensity", self.signal, ("openface", *METHODS)),
            ("detector", self.detector, tuple(DETECTORS)),
        ):
            if value not in known:
                raise unknown_choice(name, value, known)
        if not 32 <= self.size <= 1024:
            raise FerEdgeError(f"size must be in 32..1024 px, got {self.size}")
        if not 0 <= self.pad_y <= 200 or self.detect_frames < 1 or self.workers < 1:
            raise FerEdgeError("pad_y must be 0..200, detect_frames >= 1 and workers >= 1")
        from fer_edge.cluster import parse_spec

        parse_spec(self.executor)  # a typo fails before any work
        if self.au_dir is not None and not Path(self.au_dir).is_dir():
            raise FerEdgeError(
                f"au_dir {self.au_dir} is not a folder: pass the folder of OpenFace 2.x "
                "FeatureExtraction CSVs (--au-dir, recipe data.preprocess.au_dir), or choose "
                "the built-in estimator explicitly (--intensity flow)"
            )
        if self.signal == "openface" and self.au_dir is None:
            raise FerEdgeError(
                "intensity 'openface' needs the folder of OpenFace CSVs: pass --au-dir (recipe data.preprocess.au_dir)"
            )

    @property
    def signal(self) -> str:
        """The trimming signal in effect: ``openface``, ``flow`` or ``diff``."""
        if self.intensity is not None:
            return self.intensity
        return "openface" if self.au_dir else "flow"

    def clip_params(self) -> dict:
        """The settings that change a clip's output: a marker must match them to be reused."""
        au = str(Path(self.au_dir).resolve()) if self.au_dir else None
        params = {
            "format": FORMAT,
            "tracker": self.tracker,
            "size": self.size,
            "pad_y": self.pad_y,
            "detect_frames": self.detect_frames,
            "intensity": self.signal,
            "au_dir": au,
        }
        if self.detector != "haar":  # (absent = Haar, so earlier outputs stay reusable)
            params["detector"] = self.detector
        return params


@dataclass
class PreprocessReport:
    """What a run produced (also written as ``summary.json``, minus the timings).

    Attributes:
        out: output folder.
        records: one dict per clip (see the module docstring for the fields).
        dataset: the index of the root (problems, excluded clips, ignored files).
        processed: clips worked on in this run; ``skipped`` were already done.
        seconds: wall time of the clip work.
    """

    out: str
    records: list[dict]
    dataset: DatasetIndex
    processed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> int:
        """Clips stored successfully (anomalies included: they are kept for review)."""
        return sum(r["status"] == "ok" for r in self.records)

    @property
    def failed(self) -> list[dict]:
        """Records of clips that could not be used."""
        return [r for r in self.records if r["status"] != "ok"]

    @property
    def anomalies(self) -> list[str]:
        """Names of clips flagged by Algorithm 1 (left untrimmed for review)."""
        return [r["name"] for r in self.records if r["status"] == "ok" and r["anomaly"]]

    def describe(self) -> str:
        """A few lines for the terminal."""
        rate = f", {60 * self.processed / self.seconds:.1f} clips/min" if self.processed and self.seconds else ""
        lines = [
            f"preprocess: {self.usable} clips usable, {len(self.failed)} failed, "
            f"{len(self.anomalies)} anomalies; {self.processed} processed, {self.skipped} "
            f"already done{rate}"
        ]
        problems = self.dataset.problems
        if problems:
            lines.append(f"  {len(problems)} dataset problem(s), e.g. {problems[0].path}: {problems[0].reason}")
        for r in self.failed[:5]:
            lines.append(f"  failed {r['name']}: {r['error']}")
        lines += [f"  {k}: {v}" for k, v in self.files.items()]
        return "\n".join(lines)


def _reusable(out: Path, entry: ClipEntry, params: dict) -> dict | None:
    path = marker_path(out, entry.name)
    try:
        record = check_record(read_json(path, "clip record", expect=dict), f"clip record {path}")
    except FerEdgeError:
        return None  # a damaged record: redo the clip
    if record.get("params") != params or record.get("source") != entry.path:
        return None
    if record.get("stamp") != source_stamp(entry):
        return None
    if record.get("missing_au"):
        return None  # the CSV may have been added since: looking again costs nothing
    if record["status"] == "ok" and not (out / record["folder"]).is_dir():
        return None
    return record


def _job(args: tuple) -> dict:
    """Worker entry point (top level so ``spawn`` can pickle it)."""
    from fer_edge.data.clipwork import process_clip

    entry, config, out = args
    return process_clip(entry, config, Path(out))


def preprocess(
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    config: PreprocessConfig = PreprocessConfig(),
    progress: bool = False,
) -> PreprocessReport:
    """Run the stage over a dataset; resumable and safe to interrupt.

    Args:
        root: dataset folder (see :func:`fer_edge.data.bu4dfe.index_bu4dfe`).
        out: output folder (created).
        config: settings.
        progress: show a progress bar (log lines off a terminal).

    Returns:
        A :class:`PreprocessReport`; ``report.usable == 0`` means nothing usable was produced.

    Raises:
        FerEdgeError: missing root, or no clip found at all.

    Example:
        >>> report = preprocess("data/BU4DFE", "runs/pre",
        ...                     config=PreprocessConfig(exclude=("F016",), workers=2))  # doctest: +SKIP
        >>> report.files["index"]                                                       # doctest: +SKIP
        'runs/pre/index.jsonl'
    """
    out = Path(out)
    index = index_bu4dfe(root, labels=config.labels, exclude=config.exclude)
    if not index.clips:
        why = f"; {len(index.problems)} problem(s), e.g. {index.problems[0].reason}" if index.problems else ""
        raise FerEdgeError(f"no usable clip found under {root}{why}")
    mark(out)  # a run folder of ours: fer-edge may replace files in it
    (out / "clips").mkdir(parents=True, exist_ok=True)
    (out / "records").mkdir(parents=True, exist_ok=True)
    params = config.clip_params()
    records: dict[str, dict] = {}
    todo: list[ClipEntry] = []
    for entry in index.clips:
        safe_name(entry.name)
        done = _reusable(out, entry, params)
        if done is not None:
            records[entry.name] = done
        else:
            todo.append(entry)

    start = time.perf_counter()
    if todo:
        from fer_edge.core.progress import progress as progress_bar

        jobs = [(entry, config, str(out)) for entry in todo]
        # A Ray executor shows its own bar over the clip chunks.
        bar = progress_bar(
            total=len(jobs), desc="preprocess", unit="clip", disable=not progress or config.executor != "local"
        )
        try:
            if config.executor != "local":
                from fer_edge.cluster.chunks import map_chunks

                for record in map_chunks(_job, jobs, executor=config.executor, desc="preprocess", workdir=out):
                    records[record["name"]] = record
            elif config.workers > 1 and len(jobs) > 1:
                ctx = multiprocessing.get_context("spawn")  # fork + OpenCV threads can deadlock
                with ctx.Pool(min(config.workers, len(jobs))) as pool:
                    for record in pool.imap(_job, jobs):  # imap keeps dataset order
                        records[record["name"]] = record
                        bar.update(1)
            else:
                for job in jobs:
                    record = _job(job)
                    records[record["name"]] = record
                    bar.update(1)
        finally:
            bar.close()
    seconds = time.perf_counter() - start

    ordered = [records[e.name] for e in index.clips]
    report = PreprocessReport(
        str(out), ordered, index, processed=len(todo), skipped=len(index.clips) - len(todo), seconds=seconds
    )
    from fer_edge.data.clipwork import write_outputs

    report.files = write_outputs(out, report, config, to_json(report))
    return report


def read_index(out: str | os.PathLike) -> list[dict]:
    """The records of a preprocessed folder (``index.jsonl``).

    Example:
        >>> records = read_index("runs/pre")        # doctest: +SKIP
        >>> records[0]["span"]  # [first, stop) frames kept after trimming  # doctest: +SKIP
    """
    path = Path(out) / "index.jsonl"
    if not path.is_file():
        raise FerEdgeError(f"{path} does not exist; run: fer-edge preprocess --root DATA --out {out}")
    records = read_jsonl(path, "preprocess index", required=("name", "status"))
    for number, record in enumerate(records, start=1):
        try:
            check_record(record, f"preprocess index {path}: record {number}")
        except FerEdgeError as exc:
            problem = str(exc)
            problem = problem[: -len("; fix the file")] if problem.endswith("; fix the file") else problem
            raise FerEdgeError(f"{problem}; rerun: fer-edge preprocess --root DATA --out {out}") from None
    return records


def load_clip(out: str | os.PathLike, record: dict, *, trimmed: bool = True) -> np.ndarray:
    """The stored face crops of one clip, ``(T, size, size, 3)`` BGR uint8.

    Args:
        out: the preprocessed folder.
        record: a record from :func:`read_index`.
        trimmed: keep only Algorithm 1's span (anomalies are untrimmed anyway).

    Example:
        >>> clip = load_clip("runs/pre", read_index("runs/pre")[0])   # doctest: +SKIP
    """
    import cv2

    if record.get("status") != "ok":
        raise FerEdgeError(f"clip {record.get('name')} failed in preprocessing: {record.get('error')}")
    root = Path(out).resolve()
    folder = (root / str(record.get("folder", ""))).resolve()
    if not folder.is_relative_to(root) or folder == root:
        raise FerEdgeError(
            f"{out}/index.jsonl: clip {record.get('name')!r} points outside the folder "
            f"({record.get('folder')!r}); the index is damaged, rerun preprocess"
        )
    files = list_frames(folder)
    if trimmed:
        files = files[record["span"][0] : record["span"][1]]
    frames = [cv2.imread(str(f), cv2.IMREAD_COLOR) for f in files]
    if frames and all(f is not None for f in frames) and len({f.shape for f in frames}) > 1:
        raise FerEdgeError(f"frames of {record['name']} in {out} differ in size; rerun preprocess")
    if not frames or any(f is None for f in frames):
        raise FerEdgeError(f"frames of {record['name']} in {out} are missing or unreadable; rerun preprocess")
    return np.stack(frames)


def to_json(report: PreprocessReport) -> dict:
    """JSON-ready summary (deterministic: no timings, so a rerun writes the same bytes)."""
    ok = [r for r in report.records if r["status"] == "ok"]
    before = [r["frames"] for r in ok]
    after = [r["span"][1] - r["span"][0] for r in ok]

    def stats(v: list[int]) -> dict:
        return (
            {"min": min(v), "median": float(np.median(v)), "max": max(v), "at_most_100": int(sum(x <= 100 for x in v))}
            if v
            else {}
        )

    return {
        "format": FORMAT,
        "root": report.dataset.root,
        "clips": len(report.records),
        "usable": report.usable,
        "subjects": sorted({r["subject"] for r in ok}),
        "failed": [{"name": r["name"], "source": r["source"], "error": r["error"]} for r in report.failed],
        "anomalies": report.anomalies,
        "missing_au_csv": [r["name"] for r in report.records if r.get("missing_au")],
        "warnings": [{"name": r["name"], "warning": w} for r in report.records for w in r.get("warnings", [])],
        "problems": [asdict(p) for p in report.dataset.problems],
        "excluded": [e.name for e in report.dataset.excluded],
        "ignored": report.dataset.ignored,
        "lengths": {"before": stats(before), "after": stats(after)},
    }
