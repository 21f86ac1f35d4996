"""Command line: a thin layer over the Python API (`manypose --help`), one module per command.

Every command's failures end as one line on stderr: bad input and bad options exit 2, inputs
that failed while others went through exit 1, and a bug of ours says so and asks for a report.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from ..debugging import DEBUG_ENV, debugging
from . import analyze, bench, convert, evaluation, export, models, predict, serve, train, video
from .options import EXIT_FAILURES, EXIT_USAGE

COMMANDS = (predict, video, evaluation, analyze, train, bench, export, convert, models, serve)
# The one place that tells the user's problems from ours. The user's input or options are bad
# (a damaged model file is a ModelFileError, an output over an input an OverwritesInput: both
# ValueErrors): exit 2. The machine refused (a file that cannot be written, a dependency that is
# missing): exit 1. Anything else is a bug of ours, and says so.
BAD_INPUT = (ValueError, LookupError)
REFUSED = (OSError, RuntimeError, ImportError)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.formatwarning = _one_line_warning
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BAD_INPUT + REFUSED as error:  # messages name the file
        print(f"manypose {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, BAD_INPUT) else EXIT_FAILURES
    except MemoryError:
        print(f"manypose {args.command}: error: out of memory (a smaller --input-size or fewer --threads "
              "needs less)", file=sys.stderr)
        return EXIT_FAILURES
    except Exception as error:  # a bug of ours: one line, the traceback on request
        if debugging():
            raise
        print(f"manypose {args.command}: error: unexpected {type(error).__name__}: {error} "
              f"(set {DEBUG_ENV}=1 for the traceback, and please report it)", file=sys.stderr)
        return EXIT_FAILURES


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"manypose: warning: {message}\n"


class OneLineParser(argparse.ArgumentParser):
    """Option errors in the one format of every other error: one line, exit 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="manypose",
        description="Multi-person 2D human pose estimation. Works offline with the bundled "
                    "default model (yolo11n-pose, COCO 17 keypoints).")
    parser.add_argument("--version", action="version", version=f"manypose {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add(commands)
    return parser


def _version() -> str:
    from .. import __version__

    return __version__
