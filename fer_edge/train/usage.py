"""Checks that cost nothing, before hours of work: recipe keys the verb never reads
(:func:`check_used`), missing weights files and OpenFace folders (:func:`preflight`).

A recipe that says ``reduce_lr_factor: 0.5`` while the code ignores it looks like a
reproduction and is not one. :func:`check_used` compares the keys a recipe spelled out (file
and ``--set``, recorded by :func:`fer_edge.train.config.load_recipe`) with what the verb reads,
and raises one line naming each unread key and why.

Example:
    >>> from fer_edge.train.config import load_recipe
    >>> check_used(load_recipe(None, overrides=["clip.size=64"]), "temporal")
    Traceback (most recent call last):
    ...
    fer_edge.core.errors.FerEdgeError: defaults (+ --set): 'clip.size' is not read by 'train temporal' ...
"""

from __future__ import annotations

from pathlib import Path

from fer_edge.core.config import dotted_keys
from fer_edge.core.errors import FerEdgeError

# Sections each verb never reads (and the verb that does).
_SECTIONS = {
    "spatial": ("extract", "temporal", "clip", "finalize", "window", "fusion", "reference_accuracy"),
    "temporal": ("clip", "fusion"),
    "clip": ("spatial", "extract", "temporal", "fusion"),
}
_OWNER = {
    "spatial": "train spatial / temporal",
    "extract": "extract / train temporal",
    "temporal": "train temporal",
    "clip": "train clip",
    "finalize": "train temporal / clip",
    "window": "train temporal / clip",
    "fusion": "fuse",
    "reference_accuracy": "train temporal / clip",
}
# With spatial.weights set the spatial model is loaded, not trained: these keys are not read.
_TRAINING_ONLY = (
    "source",
    "fer2013",
    "frames_per_clip",
    "batch_size",
    "phases",
    "online_augmentation",
    "early_stopping",
    "validation",
    "tune",
)


def read_dict(recipe, verb: str) -> dict:
    """The recipe as a mapping of only what ``verb`` reads (saved as a run's ``recipe.yaml``, so
    that file runs again as it is)."""
    tree = recipe.to_dict()
    for key, _ in unread_keys(recipe, verb, keys=dotted_keys(tree)):
        parts = key.split(".")
        node = tree
        for part in parts[:-1]:
            node = node.get(part, {})
        node.pop(parts[-1], None)
    return _without_empty(tree)


def _without_empty(tree: dict) -> dict:
    out = {}
    for key, value in tree.items():
        value = _without_empty(value) if isinstance(value, dict) else value
        if value != {}:
            out[key] = value
    return out


def unread_keys(recipe, verb: str, *, keys: list[str] | None = None) -> list[tuple[str, str]]:
    """``(key, why)`` for every spelled-out key (or every key in ``keys``) that ``verb`` does not read."""
    given = keys if keys is not None else getattr(recipe, "given", ("", []))[1]
    out = []
    for key in given:
        head, _, rest = key.partition(".")
        if head in _SECTIONS.get(verb, ()):
            out.append((key, f"section '{head}' is for {_OWNER.get(head, 'another verb')}"))
        elif (
            head == "data"
            and verb == "spatial"
            and recipe.spatial.source == "fer2013"
            and not recipe.spatial.weights
            and key != "data.preprocess.pad_y"
        ):
            out.append((key, "spatial.source is fer2013: stage 1 reads the FER2013 copy alone, no clips"))
        elif head == "spatial" and recipe.spatial.weights and verb in ("temporal", "spatial"):
            sub = rest.split(".")[0]
            if sub in _TRAINING_ONLY or (sub == "options" and rest != "options.input_shape"):
                out.append((key, "spatial.weights is set, so the spatial model is loaded, not trained"))
        elif head == "spatial" and rest == "fer2013" and recipe.spatial.source != "fer2013":
            out.append((key, "spatial.source is not fer2013"))
        elif (
            head == "spatial" and rest.startswith("tune.") and rest != "tune.trials" and not recipe.spatial.tune.trials
        ):
            out.append((key, "spatial.tune.trials is 0 (no search)"))
        elif key.startswith("finalize.reduce_lr") and not recipe.finalize.separate_runs:
            out.append((key, "finalize.separate_runs is false (no ReduceLROnPlateau runs)"))
        elif key == "data.anomalies" and not recipe.data.trimmed:
            out.append((key, "data.trimmed is false (clips are used whole)"))
    return out


def check_used(recipe, verb: str) -> None:
    """Raise :class:`FerEdgeError` naming every key of ``recipe`` that ``verb`` would ignore."""
    unread = unread_keys(recipe, verb)
    if unread:
        source = getattr(recipe, "given", ("recipe", []))[0]
        listed = "; ".join(f"'{k}' ({why})" for k, why in unread[:4])
        more = f" and {len(unread) - 4} more" if len(unread) > 4 else ""
        command = f"train {verb}"
        if len(unread) == 1:
            key, why = unread[0]
            raise FerEdgeError(f"{source}: '{key}' is not read by '{command}' ({why}); remove it from the recipe")
        raise FerEdgeError(f"{source}: keys not read by '{command}': {listed}{more}; remove them from the recipe")


def preflight(recipe, verb: str) -> None:
    """Checks that cost nothing, before hours of preprocessing or training: keys the verb does not
    read, the spatial weights file, the OpenFace CSV folder. Each failure is one line with the fix.
    """
    from fer_edge.models.spatial import require_weights_choice

    if verb != "extract":  # extract reads a temporal recipe's spatial/data/extract sections only
        check_used(recipe, verb)
    sp = recipe.spatial
    if verb in ("spatial", "temporal", "extract"):
        if sp.weights and not Path(sp.weights).is_file():
            raise FerEdgeError(
                f"spatial.weights {sp.weights} does not exist: it is the fine-tuned spatial model (section 3.2.4), "
                "made by fer-edge train spatial --recipe train/vggface_finetune.yaml; pass --set spatial.weights=PATH"
            )
        if not sp.weights:
            require_weights_choice(sp.model, sp.options)
            from fer_edge.train.finetune import check_learnable

            check_learnable(sp, warn=False)  # train_spatial warns once, when it trains
            backbone = sp.options.get("weights")
            if backbone == "imagenet":
                from fer_edge.models.spatial import IMAGENET_FILES, require_imagenet_cache

                if sp.model in IMAGENET_FILES:
                    require_imagenet_cache(sp.model)
            if backbone not in (None, "random", "imagenet") and not Path(str(backbone)).is_file():
                raise FerEdgeError(
                    f"spatial.options.weights {backbone} does not exist; pass the downloaded weights "
                    "file with --set spatial.options.weights=PATH"
                )
    au_dir = recipe.data.preprocess.get("au_dir")
    index = Path(recipe.data.preprocessed) / "index.jsonl"
    if au_dir and not index.is_file() and not Path(str(au_dir)).is_dir():
        raise FerEdgeError(
            f"data.preprocess.au_dir {au_dir} is not a folder: the thesis trims on OpenFace 2.x AU intensities "
            "(section 3.2.1); run FeatureExtraction -aus on every video into one folder and pass "
            "--set data.preprocess.au_dir=PATH, or --set data.preprocess.intensity=flow for the built-in estimate"
        )
