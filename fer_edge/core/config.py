"""Typed configs from mappings: the one path from YAML recipes, ``--set`` and CLI options to dataclasses.

Every stage's settings are a dataclass with documented defaults and range checks in
``__post_init__`` (training recipes, :class:`~fer_edge.optimize.stage.OptimizeConfig`,
:class:`~fer_edge.data.preprocess.PreprocessConfig`, :class:`~fer_edge.runtime.PipelineConfig`,
:class:`~fer_edge.runtime.stream.StreamPolicy`). This module turns a mapping into one of them:
unknown keys are refused with a "did you mean", values are coerced to the annotated types
(YAML reads ``1e-4`` as text), and every error is one line naming the file and the key.
Override order, stated once: **command line > recipe file > the dataclass defaults**.

numpy-free and TensorFlow-free: the runtime imports it.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Demo:
    ...     epochs: int = 1
    ...     rate: float = 0.1
    >>> from_dict(Demo, {"epochs": "3", "rate": "1e-4"})
    Demo(epochs=3, rate=0.0001)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
import types
import typing
from pathlib import Path
from typing import Any

from fer_edge.core.errors import FerEdgeError, shorten, unknown_choice
from fer_edge.core.fileio import parse_yaml, read_yaml


def check(cond: bool, message: str) -> None:
    """Raise the one-line ``message`` unless ``cond`` (range checks in ``__post_init__``)."""
    if not cond:
        raise FerEdgeError(message)


@functools.lru_cache(maxsize=None)  # noqa: UP033 - functools.cache is 3.9+; the NCS2 kit runs on 3.7
def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except TypeError:  # Python 3.9 (the Pi's) cannot evaluate "X | None" in annotations
        namespace = vars(sys.modules[cls.__module__])
        return {f.name: _evaluate(f.type, namespace) for f in dataclasses.fields(cls)}


def _evaluate(annotation: Any, namespace: dict[str, Any]) -> Any:
    if not isinstance(annotation, str):
        return annotation
    parts, depth, start = [], 0, 0
    for i, char in enumerate(annotation):  # split "a | b" at the top level only
        depth += char == "["
        depth -= char == "]"
        if char == "|" and depth == 0:
            parts.append(annotation[start:i])
            start = i + 1
    parts.append(annotation[start:])
    scope = {**namespace, "typing": typing, **_GENERICS}
    evaluated = [eval(_old_python(p.strip()), scope) for p in parts]  # noqa: S307 - our own annotations
    return evaluated[0] if len(evaluated) == 1 else typing.Union[tuple(evaluated)]


# Python 3.7/3.8 (the NCS2 kit's 3.7) cannot subscript builtins: typing's aliases evaluate the same hints.
_GENERICS: dict[str, Any] = (
    {"list": typing.List, "tuple": typing.Tuple, "dict": typing.Dict, "set": typing.Set, "type": typing.Type}  # noqa: UP006
    if sys.version_info < (3, 9)
    else {}
)


def _old_python(text: str) -> str:
    """``a | b`` nested inside brackets as ``typing.Union[a, b]`` (no ``|`` between types before 3.10)."""
    if "|" not in text or sys.version_info >= (3, 10):
        return text
    out: list[str] = []
    levels: list[tuple[int, list[int]]] = []  # per open bracket: where its current item starts, its bars
    for char in text:
        if char in ",]" and levels:
            start, bars = levels.pop()
            if bars:  # this item is "x | y": typing.Union[x, y]
                for at in bars:
                    out[at] = ","
                out.insert(start, "typing.Union[")
                out.append("]")
            if char == ",":
                levels.append((len(out) + 1, []))
        elif char == "|" and levels:
            levels[-1][1].append(len(out))
        out.append(char)
        if char == "[":
            levels.append((len(out), []))
    return "".join(out)


def _origin(hint: Any) -> Any:
    """``typing.get_origin`` (3.8+), also on 3.7."""
    if hasattr(typing, "get_origin"):
        return typing.get_origin(hint)  # novermin - guarded
    return getattr(hint, "__origin__", None)


def _args(hint: Any) -> tuple:
    """``typing.get_args`` (3.8+), also on 3.7."""
    if hasattr(typing, "get_args"):
        return typing.get_args(hint)  # novermin - guarded
    return tuple(getattr(hint, "__args__", ()) or ())


# "X | None" is types.UnionType from Python 3.10 on; 3.9 (the Pi's OpenVINO 2022.3) has only
# typing.Union, and a plain type's origin is None there too, so None must never match.
_UNIONS = tuple(u for u in (typing.Union, getattr(types, "UnionType", None)) if u is not None)


def coerce(value: Any, hint: Any, where: str, source: str, *, finite: bool = True) -> Any:
    """``value`` as the annotated type ``hint`` (nested dataclasses, lists, tuples, numbers, text);
    ``finite=False`` lets ``nan``/``inf`` floats through to the range checks that follow.

    Example:
        >>> coerce("300", int, "subset_size", "int8.yaml")
        300
    """
    origin, args = _origin(hint), _args(hint)
    if origin is not None and origin in _UNIONS:
        return _union(value, args, where, source, finite)
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            raise FerEdgeError(f"{source}: '{where}' must be a mapping, got {value!r}")
        return from_dict(hint, value, where=f"{where}.", source=source)
    if origin in (list, tuple):
        return _sequence(value, origin, args, where, source, finite)
    if origin is dict:
        if not isinstance(value, dict):
            raise FerEdgeError(f"{source}: '{where}' must be a mapping, got {shorten(repr(value))}")
        return value
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise FerEdgeError(f"{source}: '{where}' must be true or false, got {value!r}")
    if hint in (int, float):
        return _number(value, hint, where, source, finite)
    if hint is str:
        if isinstance(value, (dict, list, tuple)) or value is None:
            raise FerEdgeError(f"{source}: '{where}' must be text, got {value!r}")
        return str(value)
    return value


def _union(value: Any, args: tuple, where: str, source: str, finite: bool) -> Any:
    if value is None and type(None) in args:
        return None
    options = [a for a in args if a is not type(None)]
    if len(options) == 1:  # "X | None": X's own message
        return coerce(value, options[0], where, source, finite=finite)
    for arg in options:
        try:
            return coerce(value, arg, where, source, finite=finite)
        except (FerEdgeError, TypeError, ValueError):
            continue
    raise FerEdgeError(f"{source}: '{where}' has an invalid value {value!r}")


def _sequence(value: Any, origin: type, args: tuple, where: str, source: str, finite: bool) -> list | tuple:
    if not isinstance(value, (list, tuple)):
        raise FerEdgeError(f"{source}: '{where}' must be a list, got {value!r}")
    if origin is tuple and len(args) > 1 and args[1] is not Ellipsis:  # a fixed shape: (w, h)
        if len(value) != len(args):
            raise FerEdgeError(f"{source}: '{where}' must have {len(args)} items, got {value!r}")
        return tuple(coerce(v, a, where, source, finite=finite) for v, a in zip(value, args))
    items = [coerce(v, args[0] if args else Any, where, source, finite=finite) for v in value]
    return tuple(items) if origin is tuple else items


def _number(value: Any, hint: type, where: str, source: str, finite: bool) -> int | float:
    if isinstance(value, bool):
        raise FerEdgeError(f"{source}: '{where}' must be a number, got {value!r}")
    try:
        number = float(value)  # YAML reads 1e-4 (no dot) as a string
    except (TypeError, ValueError):
        raise FerEdgeError(f"{source}: '{where}' must be a number, got {value!r}") from None
    if hint is int:
        if not math.isfinite(number) or number != int(number):
            raise FerEdgeError(f"{source}: '{where}' must be an integer, got {value!r}")
        return int(number)
    if finite and not math.isfinite(number):  # .nan/.inf pass every "x < lo" range check
        raise FerEdgeError(f"{source}: '{where}' must be a finite number, got {value!r}")
    return number


def coerce_fields(obj: Any) -> None:
    """Coerce every field of dataclass ``obj`` in place (call it first in ``__post_init__``), so a
    config built from Python or the command line is typed like one read from a file.

    ``nan``/``inf`` floats are left to the class' range checks, which name the range (write them
    as ``not lo < x <= hi``, false for nan); a recipe file's are refused by :func:`from_dict`.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Demo:
        ...     size: int = 1
        ...     def __post_init__(self):
        ...         coerce_fields(self)
        >>> Demo(size="160").size
        160
    """
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        new = coerce(value, hints[f.name], f.name, type(obj).__name__, finite=False)
        if new is not value:
            object.__setattr__(obj, f.name, new)  # frozen dataclasses too


def from_dict(cls: type, data: dict[str, Any], *, where: str = "", source: str = "recipe") -> Any:
    """Build dataclass ``cls`` from a mapping; an unknown key gets a "did you mean".

    Args:
        where: the dotted prefix of ``data``'s keys in the file (``"temporal."``).
        source: the file (or ``--set``) the values came from, first in every message.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Demo:
        ...     epochs: int = 1
        >>> from_dict(Demo, {"epoch": 3}, source="r.yaml")
        Traceback (most recent call last):
        fer_edge.core.errors.FerEdgeError: r.yaml: unknown key 'epoch'; did you mean 'epochs'? known: epochs
    """
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise unknown_choice("key", f"{where}{key}", names, match=key, prefix=f"{source}: ")
        kwargs[key] = coerce(value, hints[key], f"{where}{key}", source)
    try:
        return cls(**kwargs)
    except FerEdgeError as exc:  # range checks know the value, not the file: name it
        if str(exc).startswith(source):
            raise
        raise FerEdgeError(f"{source}: {exc}") from None


def read_recipe(path: str | os.PathLike, *, see: str) -> dict[str, Any]:
    """The mapping in YAML file ``path``; ``see`` names where the example recipes are."""
    path = Path(path)
    if not path.is_file():
        raise FerEdgeError(f"recipe {path} does not exist; see the recipes in {see}")
    data = read_yaml(path, "recipe") or {}
    if not isinstance(data, dict):
        raise FerEdgeError(f"{path}: a recipe must be a mapping of keys to values, got {type(data).__name__}")
    return data


def load(
    cls: type, path: str | os.PathLike | None, *, overrides: dict[str, Any] | None = None, see: str = "the repository"
) -> Any:
    """``cls`` from recipe file ``path`` (None: the defaults) with ``overrides`` on top (None = not given).

    Example:
        >>> cfg = load(OptimizeConfig, "optimize/int8.yaml", overrides={"subset_size": 100})  # doctest: +SKIP
    """
    data = read_recipe(path, see=see) if path is not None else {}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return from_dict(cls, data, source=str(path) if path is not None else "options")


def given(cls: type, values: dict[str, Any] | Any, **renamed: str) -> dict[str, Any]:
    """The options of ``cls`` set on the command line: argparse defaults are None, so an option
    not given leaves the dataclass default (the defaults live in one place, the dataclass).

    Args:
        values: an argparse namespace or a mapping.
        renamed: field name -> option name where the two differ (``read_timeout="stream_timeout"``).

    Example:
        >>> import argparse
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Demo:
        ...     size: int = 160
        ...     tracker: str = "kcf"
        >>> given(Demo, argparse.Namespace(size=None, tracker="csrt", verbose=False))
        {'tracker': 'csrt'}
    """
    get = values.get if isinstance(values, dict) else (lambda k, d=None: getattr(values, k, d))
    out = {}
    for f in dataclasses.fields(cls):
        value = get(renamed.get(f.name, f.name), None)
        if value is not None:
            out[f.name] = value
    return out


def dotted_keys(tree: dict, prefix: str = "") -> list[str]:
    """Every leaf of a nested mapping as a dotted key (``{"a": {"b": 1}}`` -> ``["a.b"]``).

    Example:
        >>> dotted_keys({"train": {"epochs": 3, "lr": 0.1}, "seed": 1})
        ['train.epochs', 'train.lr', 'seed']
    """
    keys = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            keys += dotted_keys(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


def set_dotted(tree: dict, dotted: str, value: Any) -> None:
    """``tree["a"]["b"] = value`` for ``dotted`` = ``"a.b"`` (a ``--set`` override)."""
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise FerEdgeError(f"--set {dotted}: '{part}' is not a section")
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"temporal.epochs=5"`` -> ``("temporal.epochs", 5)`` (the value is read as YAML).

    Example:
        >>> parse_override("extract.augment=[flip, blur]")
        ('extract.augment', ['flip', 'blur'])
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise FerEdgeError(f"--set expects KEY=VALUE (e.g. temporal.epochs=5), got '{text}'")
    try:
        value = parse_yaml(raw, f"--set {key.strip()}") if raw.strip() else None
    except FerEdgeError:
        value = raw
    return key.strip(), value


def plain(value: Any) -> Any:
    """Tuples -> lists, recursively: a config's ``asdict`` ready for YAML/JSON."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
