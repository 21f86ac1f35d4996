#!/usr/bin/env bash
# Fuzz one reader of untrusted bytes for a while; not CI (tests/test_fuzz_smoke.py is the short run).
#
#   bash benchmarks/fuzz.sh TARGET SECONDS     # TARGET: torch_pickle graphdef tfjs modelfile images coco video
#
# Coverage-guided with atheris (pip install 'manypose[fuzz]'), else a seeded mutation loop. Each
# input is cut off after 5 s, memory capped at 2 GB; findings and their inputs land in .fuzz/TARGET/
# and the exit status is 1 when there are any. Seeds come from ../shared (or $MANYPOSE_SHARED) and
# tests/fixtures. See fuzz/run.py.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -ne 2 ]; then
    echo "usage: bash benchmarks/fuzz.sh TARGET SECONDS" >&2
    exit 2
fi
cd "$root"
exec python -m fuzz.run "$1" "$2"
