"""`manypose models [list | fetch NAME | verify]`: the models that load by name."""
from __future__ import annotations

import json
import re
import sys

from .options import EXIT_FAILURES

CACHE_NOTE = ("The cache directory is $MANYPOSE_HOME/models, else $XDG_CACHE_HOME/manypose/models, else "
              "~/.cache/manypose/models. MANYPOSE_OFFLINE=1: no network use at all; MANYPOSE_MIRROR=URL: "
              "fetch URL/<published file name> instead of the published address.")


def add(commands) -> None:
    p = commands.add_parser("models", help="list, fetch and verify models by name",
                            description="The bundled models, models in the local cache, published checkpoints "
                                        "(fetched once with their sha256 checked, then loaded by name) and "
                                        "architectures to train. " + CACHE_NOTE)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_list)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="list the models (the default)", description="List the models. " + CACHE_NOTE)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)
    fetch = actions.add_parser(
        "fetch", help="fetch published models into the cache",
        description="Fetch published models into the cache: into a partial file that a later try resumes, "
                    "checked against the published sha256 (a mismatch is removed and refused), then renamed "
                    "into place. A model already fetched is checked and fetched again only if damaged. "
                    + CACHE_NOTE)
    fetch.add_argument("names", nargs="+", metavar="NAME", help="published model names (see `manypose models`)")
    fetch.add_argument("--sha256", type=sha256_digest, metavar="HEX",
                       help="the digest to check a one-file model against, for models whose sha256 is not published")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(run=run_fetch)
    verify = actions.add_parser("verify", help="check fetched models against their published sha256",
                                description="Check the fetched published models (or those named) against their "
                                            "published sha256; exit 1 if any file is damaged or missing. A "
                                            "damaged file is left in place; `manypose models fetch NAME` "
                                            "replaces it.")
    verify.add_argument("names", nargs="*", metavar="NAME", help="published model names (default: every fetched one)")
    verify.set_defaults(run=run_verify)


def sha256_digest(text: str) -> str:
    import argparse

    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a sha256 digest, 64 hexadecimal digits")
    return text.lower()


def run_list(args) -> int:
    from ..zoo import list_models

    rows = list_models()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        licence = f"  ({row['licence']})" if "licence" in row else ""
        print(f"{row['name']:<{width}}  {row['where']:<16}  {row['path']}{licence}")
    return 0


def run_fetch(args) -> int:
    from ..zoo import fetch_model

    for name in args.names:
        path = fetch_model(name, sha256=args.sha256, progress=not args.quiet)
        print(f"{name}: {path}")
    return 0


def run_verify(args) -> int:
    from ..zoo import verify_models

    rows = verify_models(args.names)
    for row in rows:
        print(f"{row['name']}  {row['status']:<9}  {row['file']}")
    if not rows:
        print("no published model is fetched", file=sys.stderr)
    damaged = sorted({row["name"] for row in rows if row["status"] == "damaged"})
    if damaged:
        print(f"damaged files are left in place; `manypose models fetch {' '.join(damaged)}` replaces them",
              file=sys.stderr)
    return EXIT_FAILURES if any(row["status"] in ("damaged", "missing") for row in rows) else 0
