#!/usr/bin/env python3
"""Compare the events of two ``fer-edge demo`` runs: label agreement and largest score difference.

Used by ``make pi-check`` (aarch64 under QEMU vs this x86 machine) and ``make ncs2-check``
(OpenVINO 2022.3 on Python 3.9 vs the main runtime). Frames are matched by number and faces
within a frame by the nearest box centre: decoders on different CPUs differ by a couple of grey
levels, which can move a box by a pixel, so labels are compared, not boxes.

    python3 deploy/checks/compare_events.py REFERENCE.jsonl OTHER.jsonl [--min-agree 0.99] [--name A72]

Prints one line; exit status 0 when agreement >= --min-agree, 1 otherwise, 2 on unusable input.
Standard library only (runs in any Python >= 3.7).
"""

from __future__ import annotations

import argparse
import json
import sys


def read_faces(path: str) -> dict:
    """{frame: [event, ...]} of the face events (those with a label) in a JSON Lines file."""
    faces: dict = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            event = json.loads(line)
            if event.get("label") is not None and "box" in event:
                faces.setdefault(int(event["frame"]), []).append(event)
    return faces


def _centre(event: dict) -> tuple:
    x, y, w, h = event["box"]
    return x + w / 2.0, y + h / 2.0


def _pairs(ref: list, other: list) -> list:
    """Greedy nearest-centre matching of the faces of one frame."""
    left = list(other)
    pairs = []
    for a in ref:
        if not left:
            break
        ca = _centre(a)
        best = min(left, key=lambda b: (_centre(b)[0] - ca[0]) ** 2 + (_centre(b)[1] - ca[1]) ** 2)
        left.remove(best)
        pairs.append((a, best))
    return pairs


def compare(reference: dict, other: dict) -> dict:
    """Counts of faces in either run, faces with the same label, and the largest score difference."""
    total = same = 0
    max_diff = 0.0
    for frame in sorted(set(reference) | set(other)):
        ref, oth = reference.get(frame, []), other.get(frame, [])
        total += max(len(ref), len(oth))  # a face seen by one run only counts as a disagreement
        for a, b in _pairs(ref, oth):
            same += a["label"] == b["label"]
            for name, score in (a.get("scores") or {}).items():
                if name in (b.get("scores") or {}):
                    max_diff = max(max_diff, abs(float(score) - float(b["scores"][name])))
    return {"faces": total, "same": same, "agree": same / total if total else 0.0, "max_score_diff": max_diff}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("other")
    parser.add_argument("--min-agree", type=float, default=0.99)
    parser.add_argument("--name", default="", help="label of the run in the printed line")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON instead")
    args = parser.parse_args(argv)
    try:
        result = compare(read_faces(args.reference), read_faces(args.other))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"compare_events: cannot read events: {exc}", file=sys.stderr)
        return 2
    ok = result["faces"] > 0 and result["agree"] >= args.min_agree
    result.update(ok=ok, name=args.name)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            "{}{}: labels {}/{} = {:.1%} (min {:.0%}), max score diff {:.4f}".format(
                "OK " if ok else "FAIL ",
                args.name or args.other,
                result["same"],
                result["faces"],
                result["agree"],
                args.min_agree,
                result["max_score_diff"],
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
