"""Models in and out: the default model, Keras files, plain OpenVINO/ONNX models, Keras -> OpenVINO, parity.

Everything here but ``keras`` (given a live Keras model) and the importer's TensorFlow path runs without TensorFlow.
"""
