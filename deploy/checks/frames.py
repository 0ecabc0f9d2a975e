#!/usr/bin/env python3
"""Decode a video into a folder of PNG frames, optionally with +-N grey levels of seeded noise.

Used by ``make pi-check``: decoded once on this machine, the same pixels feed the x86 and the
emulated ARM runs (``fer-edge demo --source FOLDER`` reads frame folders), so a difference
between them is the runtime's, not the decoders'. The noisy copy measures how far the pipeline's
own labels move under a perturbation the size of the x86/ARM decoding difference.

    python deploy/checks/frames.py VIDEO OUT_FOLDER [--first N] [--noise 1] [--seed 0]

Prints the video's frame rate (for ``--fps``). Refuses an existing OUT_FOLDER.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("out")
    parser.add_argument("--first", type=int, default=0, help="only the first N frames (0: all)")
    parser.add_argument("--noise", type=int, default=0, help="add uniform integer noise in [-N, N]")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import cv2
    import numpy as np

    if os.path.exists(args.out):
        print(f"frames.py: {args.out} exists; remove it or choose another folder", file=sys.stderr)
        return 2
    capture = cv2.VideoCapture(args.video)
    if not capture.isOpened():
        print(f"frames.py: cannot open {args.video}", file=sys.stderr)
        return 2
    fps = capture.get(cv2.CAP_PROP_FPS)
    rng = np.random.default_rng(args.seed)
    tmp = f"{args.out}.tmp-{os.getpid()}"
    os.makedirs(tmp)
    count = 0
    while not args.first or count < args.first:
        ok, frame = capture.read()
        if not ok:
            break
        if args.noise:
            noise = rng.integers(-args.noise, args.noise + 1, size=frame.shape)
            frame = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        cv2.imwrite(os.path.join(tmp, f"{count:06d}.png"), frame)
        count += 1
    capture.release()
    if not count:
        print(f"frames.py: {args.video} yielded no frame", file=sys.stderr)
        return 2
    os.rename(tmp, args.out)
    print(repr(fps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
