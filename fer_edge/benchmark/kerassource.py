"""Which Keras file the TensorFlow baseline times for a bundle, or why there is none.

A bundle imported with Keras installed keeps a ``.keras`` copy; the default bundle and any
bundle imported without TensorFlow do not. For a one-model (``frame``) bundle the Keras model
is rebuilt from what its provenance records of the source: the default bundle's pinned ``fer``
asset (fetched and checked against its sha256), or the ``.h5``/``.hdf5``/``.keras`` file it was
imported from while that file still exists. The rebuilt model must have the parameter count
the import recorded, so a changed source file is never timed as the bundle's baseline.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fer_edge.core import assets
from fer_edge.runtime.bundle import Bundle

log = logging.getLogger(__name__)

__all__ = ["keras_sources"]

_KERAS = (".h5", ".hdf5", ".keras")


def keras_sources(bundle: Bundle) -> tuple[dict[str, Path], str | None]:
    """Role -> Keras file for the baseline, and a one-line reason when there is none.

    Example:
        >>> keras_sources(load_bundle(default_bundle()))  # doctest: +SKIP
        ({'frame': PosixPath('~/.cache/fer-edge/assets/fer/emotion_model.hdf5')}, None)
    """
    own = {role: bundle.path / e.keras for role, e in bundle.models.items() if e.keras}
    if own:
        return own, None
    why = f"no TensorFlow baseline for {bundle.name}: it has no .keras file"
    if list(bundle.models) != ["frame"]:
        return {}, f"{why}, and only one-model (frame) bundles are rebuilt from their source; pass --baseline none"
    source = bundle.provenance.get("source")
    if bundle.name == assets.DEFAULT_BUNDLE:
        name, member = assets.DEFAULT_MODEL
        return {"frame": assets.fetch([name])[name][member]}, None
    if not isinstance(source, str) or Path(source).suffix.lower() not in _KERAS:
        return {}, f"{why} and records no Keras source; re-import it with TensorFlow installed for one"
    path = Path(source)
    if not path.is_file():
        return {}, f"{why} and its source {path} is gone; re-import it with TensorFlow installed for a .keras copy"
    return {"frame": path}, None


def check_rebuilt(bundle: Bundle, model, path: Path) -> str | None:
    """None when ``model`` (loaded from ``path``) has the parameter count the import recorded."""
    recorded = bundle.provenance.get("params")
    if bundle.models["frame"].keras or not isinstance(recorded, int):
        return None
    got = int(model.count_params())
    if got != recorded:
        return (
            f"no TensorFlow baseline for {bundle.name}: its source {path} has {got} parameters, the bundle was "
            f"imported from one with {recorded}; the file changed since"
        )
    return None
