"""`spade-lesson download` and `python data/download.py`: prepare a dataset (spade_lesson.data.download), one line out
on failure."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from spade_lesson.cli.parser import OneLineParser
from spade_lesson.data.download.run import DATASETS, DOWNLOADS, PUBLIC, prepare_dataset
from spade_lesson.data.errors import DatasetError, DownloadError


def parser(prog: str) -> argparse.ArgumentParser:
    """The download command's arguments."""
    result = OneLineParser(
        prog=prog, description="Download and prepare a real dataset as <root>/<name>/{dataset.json, train/, val/}.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python data/download.py facades --root data/\n"
               "  python data/download.py ade20k --root data/\n"
               "  python data/download.py cocostuff --root data/     # 20 GB of images\n"
               "  python data/download.py cityscapes --local ~/Downloads\n"
               "  python data/download.py --url https://example.org/mine.zip --name mine --sha256 HEX")
    result.add_argument("dataset", nargs="?", choices=DATASETS, help="a dataset of the paper")
    result.add_argument("--root", type=Path, default=Path("data"),
                        help="folder that receives <name>/ and downloads/ (default: data)")
    result.add_argument("--mirror", help=f"{', '.join(PUBLIC)}: base URL serving the official archives under their "
                                         f"own file names")
    result.add_argument("--local", type=Path, help="cityscapes: folder holding the two zips or their unpacked folders "
                                                   "(default: <root>/downloads)")
    result.add_argument("--url", help="your own zip or tar(.gz) archive holding images/ and labels/")
    result.add_argument("--name", help="with --url: the dataset's folder name under --root")
    result.add_argument("--sha256", help="with --url: the archive's expected SHA-256 (64 hex digits)")
    return result


def run(argv: list[str], prog: str = "spade-lesson download") -> int:
    """Prepare the dataset argv names: 0 when it is prepared, 1 (one line on stderr) when it could not be, 2 bad usage,
    130 interrupted."""
    command = parser(prog)
    args = command.parse_args(argv)
    if (args.dataset is None) == (args.url is None):
        command.error(f"give a dataset ({', '.join(DATASETS)}) or --url URL --name NAME, not both")
    if args.url and not args.name:
        command.error("--url needs --name NAME (the folder it is prepared into)")
    if (args.name or args.sha256) and not args.url:
        command.error("--name and --sha256 go with --url")
    if args.name and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args.name) or args.name == DOWNLOADS:
        command.error(f"--name {args.name!r}: use letters, digits, '.', '_' or '-' (and not '{DOWNLOADS}')")
    if args.sha256 and not re.fullmatch(r"[0-9a-fA-F]{64}", args.sha256):
        command.error("--sha256 must be 64 hex digits")
    if args.mirror and args.dataset not in PUBLIC:
        command.error(f"--mirror goes with {', '.join(PUBLIC)}")
    if args.local and args.dataset != "cityscapes":
        command.error("--local goes with cityscapes")
    try:
        prepare_dataset(args.dataset, args.root, url=args.url, name=args.name, sha256=args.sha256, mirror=args.mirror,
                        local=args.local)
    except (DownloadError, DatasetError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)  # one line, whatever a reason held
        return 1
    except OSError as err:
        print(f"error: {err}; check the path and free disk space, then run again", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    return 0
