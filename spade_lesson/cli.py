"""The `spade-lesson` command: one entry point for the course's jobs."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen job."""
    parser = argparse.ArgumentParser(prog="spade-lesson", description="The SPADE course's command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="train a small SPADE generator on the offline dataset and write a picture")
    sub.add_parser("download", help="download and prepare a real dataset (see `spade-lesson download -h`)",
                   add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "download":
        from spade_lesson.data.download import main as download_main
        return download_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "demo":
        print("spade-lesson demo: the SPADE GAN trainer is not built yet (issue: The SPADE GAN).")
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
