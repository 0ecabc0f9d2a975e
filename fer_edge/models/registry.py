"""Models by name: ``@register_model`` factories, :func:`create_model`, :func:`list_models`.

Kinds:
    ``spatial``  per-frame feature extractors (and FER2013 classifiers) on ``(H, W, 3)``;
    ``temporal`` heads on spatial features ``(T, F)`` plus a mask ``(T,)``;
    ``clip``     models on raw clips ``(T, H, W, 3)``;
    ``frame``    per-frame classifiers used on their own.

Listing models is cheap: the factory modules import Keras only inside the factories, so
``list_models()`` works without loading TensorFlow.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_edge.core.errors import FerEdgeError, closest, unknown_choice

ROLES = ("spatial", "temporal", "clip", "frame")

# Modules whose import registers models (cheap: no Keras at module level).
_FACTORY_MODULES = (
    "fer_edge.models.spatial",
    "fer_edge.models.vggface",
    "fer_edge.models.student",
    "fer_edge.models.temporal",
    "fer_edge.models.clip",
)


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, role, factory and one-line description."""

    name: str
    role: str
    factory: Callable[..., Any]
    summary: str


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a factory ``(**kw) -> keras.Model`` under ``name``.

    Args:
        name: the name users pass to :func:`create_model` and recipes use.
        role: its place in a pipeline, one of ``spatial``, ``temporal``, ``clip``, ``frame``.

    Example:
        >>> @register_model("my_head", role="temporal")  # doctest: +SKIP
        ... def my_head(**kw):
        ...     return cnn1d(filters=(32, 32, 64, 64), **kw)
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")

    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ValueError(f"model name '{name}' is already registered")
        doc = inspect.getdoc(factory) or ""
        _REGISTRY[name] = ModelSpec(name, role, factory, doc.splitlines()[0] if doc else "")
        return factory

    return decorate


def _ensure_registered() -> None:
    for module in _FACTORY_MODULES:
        importlib.import_module(module)


def list_models(role: str | None = None) -> list[str]:
    """Names of the registered models, sorted, optionally of one role.

    Example:
        >>> list_models("temporal")
        ['bilstm', 'cnn1d', 'lstm', 'test_temporal']
    """
    _ensure_registered()
    if role is not None and role not in ROLES:
        raise unknown_choice("model kind", role, ROLES)
    return sorted(n for n, s in _REGISTRY.items() if role is None or s.role == role)


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``, or a one-line error with a "did you mean".

    Example:
        >>> get_model_spec("cnn1d").role
        'temporal'
    """
    _ensure_registered()
    if name not in _REGISTRY:
        raise unknown_choice("model", name, sorted(_REGISTRY))
    return _REGISTRY[name]


def create_model(name: str, **kwargs: Any):
    """Build the registered model ``name`` with the factory's keyword options.

    Unknown names and unknown options are user mistakes: a one-line
    :class:`~fer_edge.core.errors.FerEdgeError` with a "did you mean".

    Example:
        >>> model = create_model("test_temporal", num_classes=3)  # doctest: +SKIP
        >>> [tuple(i.shape) for i in model.inputs]  # doctest: +SKIP
        [(None, 8, 16), (None, 8)]
    """
    spec = get_model_spec(name)
    params = inspect.signature(spec.factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not takes_any:
        for key in kwargs:
            if key not in params:
                close = closest(key, params)
                hint = f"; did you mean '{close}'?" if close else ";"
                raise FerEdgeError(f"model '{name}' has no option '{key}'{hint} options: {', '.join(params)}")
    return spec.factory(**kwargs)


def load_keras_model(path: str | os.PathLike[str]):
    """Load a ``.keras`` model saved from a registry model, in Keras' safe mode.

    Registers the custom layers first, and turns a missing or unreadable file into a
    one-line error.

    Example:
        >>> model = load_keras_model("bundle/temporal.keras")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FerEdgeError(
            f"model file {path} does not exist; check the path (a bundle keeps it next to manifest.json)"
        )
    if path.suffix != ".keras":
        raise FerEdgeError(f"{path} is not a .keras file; save models with model.save('name.keras')")
    import keras

    import fer_edge.models.layers  # noqa: F401 - registers the custom layers

    try:
        return keras.models.load_model(path, safe_mode=True)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FerEdgeError(f"cannot load model {path} ({first}); re-save it or re-export the bundle") from None
