"""Read a Keras model file into plain data: layer configs, their connections and weights.

Three layouts are read, with h5py and the standard library only:

* Keras 2 / tf.keras ``.h5``/``.hdf5`` (``model.save("m.h5")``): the JSON config is the root
  attribute ``model_config``; each layer's weights are in ``model_weights/<layer>`` in the order
  of its ``weight_names`` attribute. Connections are ``[[layer, node, tensor, kwargs], ...]``.
* Keras 3 legacy ``.h5``: the same file layout; connections are ``{"args": [...]}`` records
  whose tensors carry ``keras_history = [layer, node, tensor]``.
* Keras 3 ``.keras`` zip: ``config.json`` plus ``model.weights.h5``, whose layer groups are
  named after the layer *class* in snake case, numbered in layer order (``conv2d``,
  ``conv2d_1``, ...), each with ``vars/0..n`` in the layer's weight order.

Nothing in a file is executed: configs are JSON, weights are arrays.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_edge.convert.kerasfile.checks import check_config, check_input, damaged
from fer_edge.core.errors import FerEdgeError

# A .keras member larger than this is not a model this toolkit can run on a Pi anyway,
# and reading it into memory would be the zip-bomb case.
_MAX_MEMBER = 2 << 30
MAX_WEIGHT = 1 << 28  # values in one weight array (1 GiB of float32); VGG-Face's largest has 103M

Ref = tuple[str, int, int]  # (layer name, node index, tensor index)


@dataclass
class LayerSpec:
    """One Keras layer: class, config, the inputs of each call (node), its weights."""

    name: str
    class_name: str
    config: dict[str, Any]
    nodes: list[list[Ref]] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)


@dataclass
class KerasFile:
    """A functional graph read from a model file.

    Attributes:
        layers: in the file's order (topological for files Keras wrote).
        inputs, outputs: the model's input and output tensors.
        keras_version: as recorded in the file ("" when absent).
    """

    path: Path
    layers: dict[str, LayerSpec]
    inputs: list[Ref]
    outputs: list[Ref]
    keras_version: str = ""
    sequential: bool = False

    def count_params(self) -> int:
        return int(sum(w.size for spec in self.layers.values() for w in spec.weights))


def read_keras_file(path: str | Path) -> KerasFile:
    """Parse ``path`` (.h5, .hdf5 or .keras) without Keras.

    Raises:
        FerEdgeError: not a model file, a weights-only file, or a layout this reader does not know.

    Example:
        >>> kf = read_keras_file("emotion_model.hdf5")  # doctest: +SKIP
        >>> sorted({s.class_name for s in kf.layers.values()})[:3]  # doctest: +SKIP
        ['Activation', 'Add', 'BatchNormalization']
    """
    path = Path(path)
    if not path.is_file():
        raise FerEdgeError(f"model not found: {path}; check the path")
    with damaged(path):
        graph = _read(path)
        for spec in graph.layers.values():
            check_config(spec)
        for ref in graph.inputs:
            if ref[0] not in graph.layers:
                raise FerEdgeError(f"input '{ref[0]}' is not one of the layers")
            check_input(graph.layers[ref[0]])
    return graph


def _read(path: Path) -> KerasFile:
    import h5py

    if path.suffix == ".keras":
        config, weights_file, version = _open_zip(path)
        with h5py.File(weights_file, "r") as h5:
            graph = _graph(path, config, version)
            _zip_weights(graph, h5)
        return graph
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise FerEdgeError(f"cannot load Keras model {path}: not an HDF5 file ({str(exc)[:120]})") from None
    with h5:
        raw = h5.attrs.get("model_config")
        if raw is None:
            raise FerEdgeError(
                f"cannot load Keras model {path}: it holds weights only (no model_config); "
                "save the whole model with model.save()"
            )
        config = _json(raw, path)
        version = _text(h5.attrs.get("keras_version", ""), path, "its keras_version is")
        graph = _graph(path, config, version)
        _h5_weights(graph, h5.get("model_weights", h5))
    return graph


def _text(value: Any, path: Path, what: str) -> str:
    """An HDF5 attribute or zip member as text; ``what`` names it in the error ("its model config is")."""
    if isinstance(value, np.void):  # an opaque attribute
        value = value.tobytes()
    if isinstance(value, np.bytes_):
        value = bytes(value)
    try:
        if isinstance(value, bytes):
            return value.decode("utf-8")
        text = str(value)
        text.encode("utf-8")  # h5py hands undecodable bytes over as surrogate escapes
        return text
    except UnicodeError as exc:
        raise FerEdgeError(f"cannot load Keras model {path}: {what} not UTF-8 text (byte {exc.start})") from None


def _json(raw: Any, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(_text(raw, path, "its model config is"))
    except RecursionError:
        raise FerEdgeError(f"cannot load Keras model {path}: its model config is nested too deeply") from None
    except ValueError:
        raise FerEdgeError(f"cannot load Keras model {path}: its model config is not valid JSON") from None
    if not isinstance(data, dict) or "class_name" not in data:
        raise FerEdgeError(f"cannot load Keras model {path}: unexpected model config layout")
    return data


def _open_zip(path: Path) -> tuple[dict[str, Any], io.BytesIO, str]:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise FerEdgeError(f"cannot load Keras model {path}: a .keras file is a zip archive, this is not") from None
    with zf:
        names = set(zf.namelist())
        if not {"config.json", "model.weights.h5"} <= names:
            raise FerEdgeError(f"cannot load Keras model {path}: config.json or model.weights.h5 is missing")
        for name in ("config.json", "model.weights.h5", "metadata.json"):
            if name in names and zf.getinfo(name).file_size > _MAX_MEMBER:
                raise FerEdgeError(f"cannot load Keras model {path}: {name} is larger than 2 GiB")
        config = _json(zf.read("config.json"), path)
        meta = _metadata(zf.read("metadata.json"), path) if "metadata.json" in names else {}
        weights = io.BytesIO(zf.read("model.weights.h5"))
    return config, weights, str(meta.get("keras_version", ""))


def _metadata(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(_text(raw, path, "its metadata.json is"))
    except (ValueError, RecursionError):
        raise FerEdgeError(f"cannot load Keras model {path}: its metadata.json is not valid JSON") from None
    return meta if isinstance(meta, dict) else {}


def _graph(path: Path, config: dict[str, Any], version: str) -> KerasFile:
    cls, body = config["class_name"], config.get("config")
    if cls == "Sequential":
        return _sequential(path, body, version)
    if cls not in ("Model", "Functional") or not isinstance(body, dict):
        raise FerEdgeError(
            f"cannot load Keras model {path}: top-level class {cls} is not a Model, "
            "Functional or Sequential; the 'train' extra (TensorFlow) converts it"
        )
    layers: dict[str, LayerSpec] = {}
    for item in body["layers"]:
        name = item.get("name") or item["config"]["name"]
        nodes = [_node_refs(node) for node in item.get("inbound_nodes", [])]
        layers[name] = LayerSpec(name, _class(item["class_name"]), item.get("config", {}), nodes)
    return KerasFile(path, layers, _refs(body["input_layers"]), _refs(body["output_layers"]), version)


def _sequential(path: Path, body: Any, version: str) -> KerasFile:
    items = body if isinstance(body, list) else body["layers"]  # Keras 2.0-2.1 wrote a bare list
    layers: dict[str, LayerSpec] = {}
    previous: Ref | None = None
    for item in items:
        cfg = item.get("config", {})
        name = cfg.get("name") or item.get("name")
        if previous is None and item["class_name"] != "InputLayer":
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
            if shape is None:
                raise FerEdgeError(f"cannot load Keras model {path}: the Sequential model has no input shape")
            layers["input"] = LayerSpec("input", "InputLayer", {"batch_shape": shape})
            previous = ("input", 0, 0)
        layers[name] = LayerSpec(name, _class(item["class_name"]), cfg, [[previous]] if previous else [])
        previous = (name, 0, 0)
    first = next(iter(layers))
    return KerasFile(path, layers, [(first, 0, 0)], [previous], version, sequential=True)  # type: ignore[list-item]


def _class(name: str) -> str:
    # Keras 3 .h5 files name registered custom layers "package>Class"; fer-edge's own are known here.
    return name.removeprefix("fer_edge>")


def _refs(value: Any) -> list[Ref]:
    # A single tensor is written as ["name", 0, 0], several as [["a", 0, 0], ...].
    if value and isinstance(value[0], str):
        value = [value]
    return [(str(v[0]), int(v[1]), int(v[2])) for v in value]


def _node_refs(node: Any) -> list[Ref]:
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        found: list[Ref] = []
        _collect(node.get("args", []), found)
        return found
    return [(str(r[0]), int(r[1]), int(r[2])) for r in node]  # Keras 2


def _collect(value: Any, found: list[Ref]) -> None:
    if isinstance(value, dict):
        is_tensor = value.get("class_name") == "__keras_tensor__"
        history = value.get("config", {}).get("keras_history") if is_tensor else None
        if history:
            found.append((str(history[0]), int(history[1]), int(history[2])))
        return
    if isinstance(value, list):
        for item in value:
            _collect(item, found)


def _h5_weights(graph: KerasFile, group: Any) -> None:
    for name, spec in graph.layers.items():
        if name not in group:
            continue
        sub = group[name]
        what = f"the weight names of layer '{name}' are"
        names = [_text(n, graph.path, what) for n in sub.attrs.get("weight_names", [])]
        try:
            spec.weights = [_array(sub[n], graph.path, name) for n in names]
        except KeyError as exc:
            raise FerEdgeError(
                f"cannot load Keras model {graph.path}: weight {exc} of layer '{name}' is missing"
            ) from None


def _array(dataset: Any, path: Path, layer: str) -> np.ndarray:
    """A weight array, sized from its header before it is read: an HDF5 dataset can declare
    terabytes that were never written (chunks allocate on write), and reading would allocate them."""
    shape = getattr(dataset, "shape", None)
    if shape is None or getattr(dataset, "dtype", np.dtype(object)).kind not in "biuf":
        raise FerEdgeError(f"cannot load Keras model {path}: a weight of layer '{layer}' is not a numeric array")
    if int(np.prod(shape, dtype=np.float64)) > MAX_WEIGHT:
        raise FerEdgeError(
            f"cannot load Keras model {path}: a weight of layer '{layer}' declares shape {tuple(shape)}, "
            f"over {MAX_WEIGHT:,} values; the file is damaged or crafted"
        )
    return np.asarray(dataset, dtype=np.float32)


def _snake(name: str) -> str:
    # Keras 3's naming.to_snake_case, which names the weight groups of a .keras file.
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _zip_weights(graph: KerasFile, h5: Any) -> None:
    group = h5.get("layers")
    if group is None:
        return
    used: dict[str, int] = {}
    for spec in graph.layers.values():
        if graph.sequential and spec.class_name == "InputLayer":
            continue  # a Sequential model's input is not one of its layers, so it has no group
        base = _snake(spec.class_name)
        count = used.get(base, 0)
        used[base] = count + 1
        key = base if count == 0 else f"{base}_{count}"
        if key in group and "vars" in group[key]:
            vars_ = group[key]["vars"]
            spec.weights = [_array(vars_[str(i)], graph.path, spec.name) for i in range(len(vars_))]
