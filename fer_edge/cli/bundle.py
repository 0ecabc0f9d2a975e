"""``fer-edge bundle pack|unpack``: move bundles between machines as checksummed archives."""

from __future__ import annotations

import argparse

NAME = "bundle"
HELP = "pack a bundle into a checksummed .tar.gz, or check and unpack one (e.g. on a Raspberry Pi)"
EXAMPLES = [
    "fer-edge bundle pack runs/fer -o fer.tar.gz",
    "fer-edge bundle unpack fer.tar.gz -o ~/bundles/fer",
    "fer-edge bundle unpack fer.tar.gz --force        # replace an older copy of the bundle",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["pack", "unpack"], help="pack a bundle folder or unpack an archive")
    p.add_argument("path", help="bundle folder (pack) or .tar.gz archive (unpack)")
    p.add_argument(
        "-o",
        "--out",
        help="archive to write (default <bundle>.tar.gz) or folder to unpack into "
        "(default: the archive's folder name, here)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing archive, or an existing bundle folder")


def run(args: argparse.Namespace) -> int:
    from fer_edge.runtime.archive import pack_bundle, unpack_bundle

    if args.action == "pack":
        result = pack_bundle(args.path, args.out, force=args.force)
        print(
            f"packed {result.files} files ({result.bytes / 2**20:.1f} MiB) -> {result.archive}  sha256 {result.sha256}"
        )
        print(f"next: copy it to the device, then: fer-edge bundle unpack {result.archive.name}")
        return 0
    out = unpack_bundle(args.path, args.out, force=args.force)
    print(f"unpacked and checked: {out}")
    print(f"next: fer-edge demo --bundle {out} --no-show")
    return 0
