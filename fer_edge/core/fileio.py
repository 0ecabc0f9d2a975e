"""Reading files: one loader per format, each turning any decoding or structure problem into a
one-line :class:`FerEdgeError` that names the file.

* JSON: nesting deeper than the interpreter's recursion limit (the parser raises
  RecursionError), NaN/Infinity where ``finite``, non-UTF-8 text, files over ``max_bytes`` are refused.
* YAML: aliases (``*name``, also ``<<: *name``) are refused: a 600-byte file of nested
  aliases expands to gigabytes (the "billion laughs"); recipes never need them.
* CSV: strict UTF-8 (a BOM is accepted), rows as lists of strings.
* JSON Lines: every record an object with the required keys.
* NPZ: ``allow_pickle=False``; object arrays and non-numeric arrays are refused.
* Images: decoded with OpenCV from bytes; :func:`read_images` requires one size.

Import-light (numpy and OpenCV only when used): the edge runtime reads bundles through it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from fer_edge.core.errors import FerEdgeError, shorten

PathLike = Union[str, "os.PathLike[str]"]

MAX_BYTES = 256 * 1024 * 1024


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


def check_regular(path: PathLike, what: str = "file") -> Path:
    """``path`` as a Path if it is an existing regular file (FIFOs and devices would block or never end).

    Raises:
        FerEdgeError: missing, a folder, or a special file.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FerEdgeError(f"{what} {path} does not exist; check the path") from None
    except OSError as exc:
        raise FerEdgeError(f"cannot read {what} {path} ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise FerEdgeError(f"{what} {path} is a folder, expected a file")
    if not stat.S_ISREG(mode):
        raise FerEdgeError(f"{what} {path} is a FIFO, device or socket, not a regular file; give a file")
    return path


def file_in(path: PathLike, name: str, missing: str) -> Path:
    """``path``, or ``path/name`` when ``path`` is a folder (a run's output folder names its report).

    Raises:
        FerEdgeError: no such file; ``missing`` is the message, ``{path}`` in it the path looked at.
    """
    path = Path(path)
    if path.is_dir():
        path = path / name
    if not path.is_file():
        raise FerEdgeError(missing.format(path=path))
    return path


def read_bytes(path: PathLike, what: str = "file", *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``."""
    path = check_regular(path, what)
    size = path.stat().st_size
    if size > max_bytes:
        raise FerEdgeError(f"{what} {path} is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB this reader takes")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FerEdgeError(f"cannot read {what} {path} ({exc.strerror})") from None


def read_text(path: PathLike, what: str = "file", *, max_bytes: int = MAX_BYTES) -> str:
    """A regular file's text, strict UTF-8 (a leading BOM is dropped)."""
    data = read_bytes(path, what, max_bytes=max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FerEdgeError(f"{what} {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str, where: str, *, finite: bool = False) -> Any:
    """Parse JSON text; ``where`` names its origin in errors; ``finite`` refuses NaN/Infinity."""
    try:
        return json.loads(text, parse_constant=_no_constant) if finite else json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FerEdgeError(f"{where}: not valid JSON ({_first_line(exc)})") from None


def read_json(
    path: PathLike,
    what: str = "JSON file",
    *,
    max_bytes: int = MAX_BYTES,
    expect: type | None = None,
    finite: bool = False,
) -> Any:
    """Read a JSON file; ``expect`` (e.g. ``dict``) checks the top-level type.

    Example:
        >>> read_json("runs/x/metrics.json", "metrics", expect=dict)  # doctest: +SKIP
    """
    text = read_text(path, what, max_bytes=max_bytes)
    data = parse_json(text, f"{what} {path}", finite=finite)
    if expect is not None and not isinstance(data, expect):
        raise FerEdgeError(f"{what} {path} must hold a JSON {_kind(expect)}, got {_kind(type(data))}")
    return data


def _kind(t: type) -> str:
    return {dict: "object", list: "array", str: "string"}.get(t, t.__name__)


def read_jsonl(path: PathLike, what: str = "JSON Lines file", *, required: tuple[str, ...] = ()) -> list[dict]:
    """Read one JSON object per line; each must have the ``required`` keys."""
    records = []
    for number, line in enumerate(read_text(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        record = parse_json(line, f"{what} {path}:{number}")
        if not isinstance(record, dict):
            raise FerEdgeError(f"{what} {path}:{number} is not a JSON object")
        missing = [k for k in required if k not in record]
        if missing:
            raise FerEdgeError(f"{what} {path}:{number} lacks key(s) {', '.join(missing)}; re-create the file")
        records.append(record)
    return records


def _yaml_loader():
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        """SafeLoader that refuses aliases (the "billion laughs" expansion)."""

        def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML API
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed", event.start_mark)
            return super().compose_node(parent, index)

    return NoAliasLoader


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text without aliases; ``where`` names its origin in errors."""
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        problem = getattr(exc, "problem", None) or _first_line(exc)
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise FerEdgeError(f"{where}: not valid YAML ({problem}{at}); fix the file") from None


def read_yaml(path: PathLike, what: str = "YAML file", *, max_bytes: int = 10_000_000) -> Any:
    """Read a YAML file (safe types, no aliases)."""
    return parse_yaml(read_text(path, what, max_bytes=max_bytes), f"{what} {path}")


def read_csv(path: PathLike, what: str = "CSV file") -> list[list[str]]:
    """All rows of a UTF-8 CSV file."""
    text = read_text(path, what)
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FerEdgeError(f"{what} {path} is not a readable CSV ({_first_line(exc)})") from None


def load_npz(path: PathLike, what: str = "NPZ file", *, max_bytes: int = 4 << 30) -> dict[str, Any]:
    """The numeric arrays of an ``.npz`` (no pickles, no object arrays, at most ``max_bytes``
    unpacked: a compressed archive of zeros can claim terabytes)."""
    import numpy as np

    path = check_regular(path, what)
    try:
        with np.load(path, allow_pickle=False) as data:
            unpacked = sum(info.file_size for info in data.zip.infolist()) if hasattr(data, "zip") else 0
            if unpacked > max_bytes:
                raise FerEdgeError(
                    f"{what} {path} unpacks to {unpacked / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB "
                    "this reader takes; give fewer frames"
                )
            arrays = {key: data[key] for key in data.files}
    except FerEdgeError:
        raise
    except (ValueError, OSError, EOFError, KeyError) as exc:
        # numpy raises ValueError for object arrays when pickles are off.
        raise FerEdgeError(f"{what} {path} is not a readable numeric .npz ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - zipfile.BadZipFile and friends: all a broken file
        raise FerEdgeError(f"{what} {path} is not a readable .npz ({_first_line(exc)})") from None
    for key, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise FerEdgeError(f"{what} {path}: array '{key}' has dtype {array.dtype}, expected numbers")
    return arrays


def check_finite(
    value: Any, what: str, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False
) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), else a one-line error.

    Example:
        >>> check_finite("0.5", "--alpha", lo=0, hi=1, lo_open=True)
        0.5
    """
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FerEdgeError(f"{what} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise FerEdgeError(f"{what} must be a finite number, got {value!r}")
    low_bad = lo is not None and (number <= lo if lo_open else number < lo)
    if low_bad or (hi is not None and number > hi):
        left = "(" if lo_open else "["
        raise FerEdgeError(f"{what} must be in {left}{lo}, {hi}], got {value!r}")
    return number


def read_image(path: PathLike, what: str = "image", *, color: bool = True):
    """Decode an image file (any path, also non-ASCII) as BGR (or gray) ``uint8``."""
    import cv2
    import numpy as np

    data = np.frombuffer(read_bytes(path, what), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        raise FerEdgeError(f"{what} {path} is not a readable image")
    return image


def read_images(paths: list[PathLike], what: str = "image", *, color: bool = True):
    """Decode images that must all have the same size; returns a list of arrays."""
    images = [read_image(p, what, color=color) for p in paths]
    if images:
        first = images[0].shape[:2]
        for p, img in zip(paths, images):
            if img.shape[:2] != first:
                raise FerEdgeError(
                    f"{what} {p} is {img.shape[1]}x{img.shape[0]} but {paths[0]} is "
                    f"{first[1]}x{first[0]}; give images of one size"
                )
    return images


# --- schemas: the shape of what a file holds, checked before use -----------------------------


@dataclass(frozen=True)
class Num:
    """A finite number in ``[lo, hi]``; ``integer`` refuses fractions."""

    lo: float | None = None
    hi: float | None = None
    integer: bool = False


@dataclass(frozen=True)
class ListOf:
    """A JSON array of ``min_len..max_len`` items, each matching ``item``."""

    item: Any
    min_len: int = 0
    max_len: int = 1_000_000


@dataclass(frozen=True)
class Obj:
    """A JSON object: ``required`` keys, ``optional`` ones checked when present, other keys
    allowed (files carry notes); with ``values`` and no keys: any keys, each value matching it."""

    required: dict[str, Any] = field(default_factory=dict)
    optional: dict[str, Any] = field(default_factory=dict)
    values: Any = None


ANY = object()  # a schema that takes anything
_NAMES = {bool: ("true or false", "booleans"), str: ("a string", "strings"), None: ("null", "nulls")}


def _describe(schema: Any, plural: bool = False) -> str:
    if isinstance(schema, tuple):  # any one of the options
        return " or ".join(_describe(o, plural) for o in schema)
    if isinstance(schema, Num) or schema in (int, float):
        whole = schema is int or (isinstance(schema, Num) and schema.integer)
        kind = ("integers" if plural else "an integer") if whole else ("numbers" if plural else "a number")
        lo, hi = (schema.lo, schema.hi) if isinstance(schema, Num) else (None, None)
        return kind + (f" in [{lo:g}, {hi:g}]" if lo is not None and hi is not None else f" >= {lo:g}" if lo else "")
    if isinstance(schema, ListOf):
        return f"{'lists' if plural else 'a list'} of {_describe(schema.item, True)}"
    if isinstance(schema, Obj):
        return "objects" if plural else "an object"
    return _NAMES.get(schema, (str(schema), str(schema)))[plural]


def _shown(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float, str)):
        return shorten(repr(value), 40)
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return "an object" if isinstance(value, dict) else type(value).__name__


_MISSING = object()
_Bad = "tuple[str, str, Any]"  # a string: Python 3.7 has no tuple[...]  # (key, what it must be, what is there)


def _check(value: Any, schema: Any, key: str) -> _Bad | None:
    """Where ``value`` departs from ``schema``: the key, what it must be, what is there; or None."""
    if schema is ANY:
        return None
    if isinstance(schema, tuple):
        failures = [_check(value, option, key) for option in schema]
        if not all(failures):
            return None
        deepest = max(failures, key=lambda bad: len(bad[0]))  # inside the option the value took
        return deepest if len(deepest[0]) > len(key) else (key, _describe(schema), value)
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(schema, Num) or schema in (int, float):
        lo, hi = (schema.lo, schema.hi) if isinstance(schema, Num) else (None, None)
        whole = schema is int or (isinstance(schema, Num) and schema.integer)
        ok = number and not (whole and not isinstance(value, int))
        ok = ok and (lo is None or value >= lo) and (hi is None or value <= hi)
    elif isinstance(schema, ListOf):
        if not isinstance(value, list) or not schema.min_len <= len(value) <= schema.max_len:
            size = f" of {schema.min_len} to {schema.max_len} items" if schema.max_len < 1_000_000 else ""
            size = (size or f" of at least {schema.min_len} item(s)") if isinstance(value, list) else ""
            return key, f"{_describe(schema)}{size}", value
        found = (_check(v, schema.item, f"{key}[{i}]") for i, v in enumerate(value))  # no `:=`: Python 3.7
        return next((bad for bad in found if bad), None)
    elif isinstance(schema, Obj):
        if not isinstance(value, dict):
            return key, "an object", value
        prefix = f"{key}." if key else ""
        for sub, want in schema.required.items():
            if sub not in value:
                return f"{prefix}{sub}", _describe(want), _MISSING
        checks = [(k, schema.optional[k]) for k in schema.optional if k in value] + list(schema.required.items())
        if schema.values is not None:
            checks += [(k, schema.values) for k in value]
        found = (_check(value[k], want, f"{prefix}{k}") for k, want in checks)
        return next((bad for bad in found if bad), None)
    else:
        ok = (value is None) if schema is None else isinstance(value, schema)
    return None if ok else (key, _describe(schema), value)


def check_schema(data: Any, schema: Any, where: str) -> Any:
    """``data`` (parsed JSON/YAML/CSV) if it has the shape ``schema`` describes, else one line
    naming ``where`` (the file) and the key: types, sizes and ranges, not just syntax.

    Example:
        >>> check_schema({"folds": 3}, Obj({"folds": ListOf(ListOf(str))}), "split file s.json")
        Traceback (most recent call last):
        ...
        fer_edge.core.errors.FerEdgeError: split file s.json: 'folds' must be a list of lists of strings, got 3; ...
    """
    bad = _check(data, schema, "")
    if bad is None:
        return data
    key, want, value = bad
    if not key:
        raise FerEdgeError(f"{where} must hold {want}, got {_shown(value)}; fix the file")
    if value is _MISSING:
        raise FerEdgeError(f"{where}: '{shorten(key, 80)}' is missing ({want}); fix the file")
    raise FerEdgeError(f"{where}: '{shorten(key, 80)}' must be {want}, got {_shown(value)}; fix the file")
