"""The protocol card: what a run is about to do, side by side with the thesis, with no silent line.

Before any training, ``fer-edge train`` prints and stores (``<out>/protocol.json`` and
``protocol.md``) one line per choice that decides whether a run reproduces chapter 3 (split,
input size, features, weights + sha256, trimming, anomalies, copies, schedule, final-model rule,
...), and ``fer-edge fuse`` one per fusion choice. Every line is marked ``= thesis``, ``differs``
or ``assumption (thesis says: ...)`` with the passage it interprets
(:mod:`fer_edge.train.thesis_passages`); so is every assumption a recipe or the code makes.
After the test evaluation, :func:`table_3_6_line` prints the thesis' table 3.6 row next to the
measured one. The lines of each training stage are built in :mod:`fer_edge.train.protocol_lines`.

Example:
    >>> from fer_edge.train.config import load_recipe
    >>> card = protocol_card(load_recipe("train/vggface_1dcnn.yaml"), stage="temporal")  # doctest: +SKIP
    >>> card.get("input size").mark  # doctest: +SKIP
    'assumption'
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fer_edge.core.atomic import write_text
from fer_edge.train.thesis_passages import CODE_ASSUMPTIONS, PASSAGES, split_assumption
from fer_edge.train.thesis_tables import TABLE_3_6

__all__ = [
    "MARKS",
    "THESIS_FOLD_EPOCHS",
    "CardLine",
    "ProtocolCard",
    "fusion_card",
    "protocol_card",
    "table_3_6_line",
]

# Section 3.2.4, "Final model": the folds' early-stopping epochs and the final run's 11 epochs.
THESIS_FOLD_EPOCHS = (9, 22, 4, 4, 16)

MARKS = ("= thesis", "differs", "assumption (thesis says:")


@dataclass
class CardLine:
    """One item: the run's value, what the thesis says, and whether they agree (None: an assumption)."""

    item: str
    value: str
    thesis: str = "not stated"
    where: str = ""
    matches: bool | None = None

    @property
    def mark(self) -> str:
        return {True: "= thesis", False: "differs", None: "assumption"}[self.matches]

    def describe(self) -> str:
        where = f", {self.where}" if self.where else ""
        if self.matches is True:
            note = f"= thesis: {self.thesis}{where}"
        elif self.matches is False:
            note = f"differs (thesis: {self.thesis}{where})"
        else:
            note = f"assumption (thesis says: {self.thesis}{where})"
        return f"  {self.item}: {self.value}  [{note}]"


@dataclass
class ProtocolCard:
    """The card of one run. ``assumptions`` are ``"CHOICE (thesis says: PASSAGE)"`` strings."""

    title: str
    lines: list[CardLine] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    def add(
        self, item: str, value: Any, thesis: Any = None, where: str = "", matches: bool | None | str = "auto"
    ) -> None:
        """One line; ``matches`` "auto" compares value and thesis as text; a line the thesis is silent on
        (``thesis`` None) is an assumption that says so."""
        if thesis is None:
            thesis, matches = "not stated", None
        elif matches == "auto":
            matches = str(value) == str(thesis)
        self.lines.append(CardLine(item, str(value), str(thesis), where, matches))

    def get(self, item: str) -> CardLine:
        return next(line for line in self.lines if line.item == item)

    @property
    def deviations(self) -> list[CardLine]:
        return [line for line in self.lines if line.matches is False]

    def describe(self) -> str:
        title = f"protocol card: {self.title}"
        if self.deviations:
            title += f" ({len(self.deviations)} line(s) differ: {', '.join(line.item for line in self.deviations)})"
        rows = [title] + [line.describe() for line in self.lines]
        for text in self.assumptions:
            choice, passage = split_assumption(text) or (text, "not stated")
            rows.append(f"  - {choice}  [assumption (thesis says: {passage})]")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        lines = [{**asdict(line), "mark": line.mark} for line in self.lines]
        return {"title": self.title, "lines": lines, "assumptions": self.assumptions}

    def write(self, folder: str | os.PathLike) -> dict[str, str]:
        """``protocol.json`` and ``protocol.md`` in ``folder``, atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for name, text in (
            ("protocol.json", json.dumps(self.to_dict(), indent=1) + "\n"),
            ("protocol.md", "```\n" + self.describe() + "\n```\n"),
        ):
            write_text(folder / name, text)
            files[name.replace(".", "_")] = str(folder / name)
        return files


def protocol_card(
    recipe, *, stage: str, data=None, input_size: int | None = None, features: int | None = None
) -> ProtocolCard:
    """The card of ``recipe`` for training stage ``stage`` (``spatial``, ``temporal`` or ``clip``).

    Args:
        recipe: the effective recipe.
        stage: the training verb.
        data: the prepared :class:`~fer_edge.data.clipset.ClipSet`, when there is one (actual split,
            subjects and trimming sources); without it the card says what the recipe asks for.
        input_size, features: the spatial extractor's actual input side and feature count; without
            them they come from the recipe (``spatial.options.input_shape``) and the backbone.
    """
    from fer_edge.train import protocol_lines as pl

    row = recipe.thesis.row
    table = "3.6" if row in TABLE_3_6 else "3.4"
    card = ProtocolCard(f"{recipe.name} (train {stage})" + (f", thesis table {table} row '{row}'" if row else ""))
    if not (stage == "spatial" and recipe.spatial.source == "fer2013"):  # FER2013 runs don't train on BU-4DFE
        pl.data_lines(card, recipe, data)
    if stage in ("spatial", "temporal"):
        pl.spatial_lines(card, recipe, stage, input_size)
    if stage == "temporal":
        pl.temporal_lines(card, recipe, input_size, features)
    if stage == "clip":
        pl.clip_lines(card, recipe)
    if stage in ("temporal", "clip"):
        pl.final_lines(card, recipe, THESIS_FOLD_EPOCHS)
    if row in TABLE_3_6:
        value = f"{100 * TABLE_3_6[row]:.1f} %"
        card.add("thesis test accuracy", value, value, "table 3.6")
    card.assumptions = list(recipe.thesis.assumptions)
    if stage in ("temporal", "clip"):
        # (the anomalies rule has its own card line)
        keys = ["stop_epoch", "rounding"] + (["final_lr"] if recipe.finalize.separate_runs else [])
        card.assumptions += [CODE_ASSUMPTIONS[k] for k in keys]
    return card


def table_3_6_line(recipe, measured: float | None) -> str | None:
    """The thesis' table 3.6 row next to the measured test accuracy (None without a row).

    Example:
        >>> from fer_edge.train.config import load_recipe
        >>> table_3_6_line(load_recipe(None, overrides=["thesis.row=VGGFace + 1D-CNN"]), 0.6)
        'table 3.6, VGGFace + 1D-CNN: thesis 65.0 % | measured 60.0 % (-5.0 points) | human ground truth 67.8 %'
    """
    row = recipe.thesis.row
    if row not in TABLE_3_6 or measured is None:
        return None
    diff = 100 * (measured - TABLE_3_6[row])
    return (
        f"table 3.6, {row}: thesis {100 * TABLE_3_6[row]:.1f} % | measured {100 * measured:.1f} % "
        f"({diff:+.1f} points) | human ground truth {100 * TABLE_3_6['Human ground truth']:.1f} %"
    )


def fusion_card(
    title: str,
    *,
    members: list[tuple[str, float | None]],
    methods: list[str],
    split: str,
    subset: str | None = None,
    weights_given: bool = False,
) -> ProtocolCard:
    """The card of ``fer-edge fuse``: members, methods, the weights W_i and what is scored.

    Example:
        >>> card = fusion_card("f", members=[("a", 0.6), ("b", 0.5)], methods=["average"], split="test")
        >>> card.get("scored on").matches, card.get("weights W_i").mark
        (True, 'assumption')
    """
    from fer_edge.train.fusion import METHODS
    from fer_edge.train.thesis_tables import TABLE_3_7_MEMBERS

    card = ProtocolCard(f"{title} (fuse)" + (f", thesis table 3.7 row '{subset}'" if subset else ""))
    card.add(
        "members",
        ", ".join(name for name, _ in members),
        ", ".join(TABLE_3_7_MEMBERS[subset]) if subset else "models of table 3.6",
        "table 3.7 (checked by name only: the bundles' names are the user's)",
        matches=None,
    )
    card.add(
        "methods",
        ", ".join(methods),
        ", ".join(METHODS),
        "section 3.2.6, equations 3.1-3.3",
        matches=sorted(methods) == sorted(METHODS),
    )
    weights = ", ".join(f"{name} {'-' if w is None else f'{w:.3f}'}" for name, w in members)
    source = "given with --weights" if weights_given else "each member's mean cross-validation accuracy"
    card.add(
        "weights W_i",
        f"{source}: {weights}",
        "'W_i the performance of model i' (which performance is not said)",
        "section 3.2.6, equation 3.2",
        matches=None,
    )
    card.add("scored on", split, "test", "section 3.3.2 (the 120 test videos)")
    fused = "arg-max of the fused scores, ties to the first-listed class"
    card.add("fused class", fused, PASSAGES["fused class"], matches=True)
    return card
