"""Label sets and the mappings between them, in one place.

The thesis uses BU-4DFE's six basic emotions; FER2013 adds ``neutral`` as its 7th class
(index 6). Mapping FER2013 -> thesis drops neutral and keeps the order of the other six.

Every set spells a class the same way (``angry``, ``happy`` ...), so :func:`mapping` pairs the
classes two datasets share. The order is each source's own: AffectNet's (``affectnet7``/``8``:
neutral, happy, sad, surprise, fear, disgust, angry, contempt), RAF-DB's basic set (``rafdb``:
surprise, fear, disgust, happy, sad, angry, neutral) and the alphabetical AffectNet order that
HSEmotion's models output (``hsemotion7``/``8``: angry, [contempt,] disgust, fear, happy,
neutral, sad, surprise). A model's labels must be given in the order of its outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

THESIS = ("angry", "disgust", "fear", "happy", "sad", "surprise")
FER2013 = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

AFFECTNET8 = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")
AFFECTNET7 = AFFECTNET8[:7]
RAFDB = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")
HSEMOTION8 = ("angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
HSEMOTION7 = tuple(n for n in HSEMOTION8 if n != "contempt")

LABEL_SETS: dict[str, tuple[str, ...]] = {
    "thesis": THESIS,
    "bu4dfe": THESIS,
    "fer2013": FER2013,
    "affectnet7": AFFECTNET7,
    "affectnet8": AFFECTNET8,
    "rafdb": RAFDB,
    "hsemotion7": HSEMOTION7,
    "hsemotion8": HSEMOTION8,
}

# Spellings seen in dataset file names -> canonical label.
ALIASES = {
    "anger": "angry",
    "angry": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    # Not in the thesis' or FER2013's sets, but in CK+, AffectNet and RAF-DB's compound sets:
    # known, so an evaluation reports such images apart instead of calling the folder unknown.
    "contempt": "contempt",
    "contemptuous": "contempt",
}


def get_labels(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Resolve a label-set name (``thesis``, ``fer2013``...) or a comma list into labels.

    Example:
        >>> get_labels("fer2013")[-1]
        'neutral'
        >>> get_labels("happy,sad")
        ('happy', 'sad')
    """
    from fer_edge.core.errors import FerEdgeError, listing, unknown_choice

    if isinstance(spec, str):
        if spec in LABEL_SETS:
            return LABEL_SETS[spec]
        if "," not in spec:
            raise unknown_choice("label set", spec, LABEL_SETS, note=" (or give labels as a comma list)")
        spec = [s.strip() for s in spec.split(",")]
    labels = tuple(str(s) for s in spec)
    if not labels or any(not s for s in labels):
        raise FerEdgeError(f"empty label in [{listing(map(repr, labels))}]; give non-empty names")
    if len(set(labels)) != len(labels):
        from collections import Counter

        twice = sorted(s for s, n in Counter(labels).items() if n > 1)
        raise FerEdgeError(f"duplicate labels {listing(twice)} in {len(labels)} labels; each class needs its own name")
    return labels


def canonical(name: str) -> str | None:
    """Canonical label for a spelling found in a file name, or None when unknown."""
    return ALIASES.get(name.strip().lower())


def mapping(src: Sequence[str], dst: Sequence[str]) -> dict[int, int]:
    """Index map from one label set to another; classes missing from ``dst`` are dropped.

    Example:
        >>> mapping(FER2013, THESIS)[5], 6 in mapping(FER2013, THESIS)
        (5, False)
        >>> mapping(HSEMOTION8, FER2013)  # contempt has no FER2013 class
        {0: 0, 2: 1, 3: 2, 4: 3, 5: 6, 6: 4, 7: 5}
    """
    return {i: dst.index(name) for i, name in enumerate(src) if name in dst}
