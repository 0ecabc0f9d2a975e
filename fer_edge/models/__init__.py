"""Models by name: spatial backbones, temporal heads, clip models (Keras 3).

Importing this package is cheap (no TensorFlow): factories import Keras when called.

Example:
    >>> from fer_edge.models import create_model, list_models
    >>> list_models("clip")
    ['c3d', 'convlstm', 'test_clip']
    >>> model = create_model("test_temporal")  # doctest: +SKIP
"""

from __future__ import annotations

from fer_edge.models.registry import (
    ROLES,
    create_model,
    get_model_spec,
    list_models,
    load_keras_model,
    register_model,
)

# Heavier helpers resolved on first use, so `import fer_edge.models` stays instant.
_LAZY = {
    "feature_extractor": "fer_edge.models.spatial",
    "load_vggface_weights": "fer_edge.models.vggface",
    "WeightLoadReport": "fer_edge.models.vggface",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fer_edge.models' has no attribute '{name}'")


__all__ = [
    "ROLES",
    "WeightLoadReport",
    "create_model",
    "feature_extractor",
    "get_model_spec",
    "list_models",
    "load_keras_model",
    "load_vggface_weights",
    "register_model",
]
