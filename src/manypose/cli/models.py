"""`manypose models`: the models that load by name."""
from __future__ import annotations

import json


def add(commands) -> None:
    p = commands.add_parser("models", help="list bundled, local and known models",
                            description="List the bundled models, models in the local cache "
                                        "($MANYPOSE_HOME/models, default ~/.cache/manypose/models) "
                                        "and published models that load once their checkpoint is there.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..zoo import list_models

    rows = list_models()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['where']:<16}  {row['path']}")
    return 0
