"""What the thesis says, quoted, for every protocol card line and every assumption the code makes.

The card (:mod:`fer_edge.train.protocol`) puts these next to the run's value, so that a line
reads "= thesis", "differs" or "assumption (thesis says: ...)": never a silent choice.
"""

from __future__ import annotations

__all__ = ["ASSUMPTION_FORMAT", "CODE_ASSUMPTIONS", "HEADS", "PASSAGES", "split_assumption"]

ASSUMPTION_FORMAT = "CHOICE (thesis says: PASSAGE)"

PASSAGES = {
    "input size": "224x224, inferred: the last pool 'has dimension of 7x7x512 which results in 25088 features' "
    "(3.2.4), while 3.2.1 stores faces 'resized to 160x160'",
    "face box": "'The detected bounding box is extended 10 pixels in the vertical direction before the tracking "
    "process' (3.2.1; figure 3.2: 159x159 -> 159x169)",
    "anomalies": "Algorithm 1's anomalies were 'reworked by hand' (3.2.1); whether test clips were reworked "
    "is not said",
    "fer2013 pixels": "FER2013 'is in grayscale, has a dimension of 48x48' (3.2.4); how it was fed to a 3-channel "
    "network is not said",
    "extractor pixels": "faces 'resized to 160x160 and saved' (3.2.1); how the extractor was fed them is not said",
    "preprocessing": "'preprocessing_function=func_preprocessing' (3.2.4; the function is not shown)",
    "batch": "not stated for fine-tuning (3.2.4)",
    "phases": "classifier on the frozen base (SGD) -> 'a couple of last ... convolution blocks' unfrozen -> "
    "refining 'with more regularization' (3.2.4); epochs and learning rates not stated",
    "validation": "'accuracy of the validation set was chosen as the optimizing metric' (3.2.4); FER2013's "
    "PublicTest is its validation split (table 3.3)",
    "copies at": "the 3.2.4 listing of offline transforms does not say at which image size they were made",
    "copies": "'9 times' for LSTM and '3 times' for BiLSTM (3.3.2); for other heads 'the same procedure was applied'",
    "reported cv": "'The results from all folds were then collected, averaged, and visualized' (3.2.4)",
    "clip input": "'The raw videos were fed directly to the train model' (3.2.5; read here as pixels rather than "
    "features, not as untrimmed videos)",
    "extractor": "VGGFace fine-tuned on FER2013 (3.2.4, 3.3.2)",
    "fused class": "'The class with the highest confidence is taken ... the first-mentioned one is simply "
    "taken' (3.2.3)",
}

# The temporal head of each table 3.6 row, as 3.3.2 describes it.
HEADS = {
    "VGGFace + LSTM": "LSTM(128) with 'Dropout probability to 0.4' (3.3.2)",
    "VGGFace + BiLSTM": "BiLSTM(128) with 'a brutal drop rate of 0.7' (3.3.2)",
    "VGGFace + 1D-CNN": "4 Conv1D, 2 max pooling, 1 dense layer (figure 3.27; sizes not in the text)",
}

ARCHITECTURES = {
    "c3d": (
        "Conv3D 16/16/32 (3x3x3, valid, ReLU) each + MaxPool3D 2x2x2, Flatten, Dense 512 x 2, softmax; "
        "input scaled /255 inside the model",
        "'3 3D convolution layers of 16 16 and 32 neurons, all with a kernel size 3x3, each followed by a max "
        "pooling layer' (3.3.2, figure 3.22); input scaling not said",
    ),
    "convlstm": (
        "2 ConvLSTM2D(8), 3x3 kernels, valid padding, Flatten, no dense layer, softmax; input scaled /255 inside "
        "the model",
        "'2 2D ConvLSTM layers of 8 neurons, followed by a Flatten layer' (3.3.2); kernels, padding, scaling not said",
    ),
}

# What the code itself assumes wherever the thesis is silent or ambiguous (recipes add their own).
CODE_ASSUMPTIONS = {
    "final_lr": "the final fit has no validation set, so its ReduceLROnPlateau watches training accuracy "
    "(thesis says: 'if accuracy does not improve after 5 epochs', 3.2.4)",
    "stop_epoch": "a fold's stop epoch is the epoch of its best validation accuracy, the weights EarlyStopping keeps "
    "(thesis says: the 'Final model' table lists max accuracy with its epoch, 3.2.4)",
    "rounding": "mean stop epoch rounded half up: 9, 22, 4, 4, 16 -> 11 (thesis says: 11, without the rounding rule)",
}


def split_assumption(text: str) -> tuple[str, str] | None:
    """``"CHOICE (thesis says: PASSAGE)"`` -> ``(CHOICE, PASSAGE)``; None when not in that form.

    Example:
        >>> split_assumption("batch 64 (thesis says: not stated)")
        ('batch 64', 'not stated')
        >>> split_assumption("batch 64") is None
        True
    """
    marker = " (thesis says: "
    at = text.rfind(marker)
    if at <= 0 or not text.endswith(")"):
        return None
    return text[:at].strip(), text[at + len(marker) : -1].strip()
