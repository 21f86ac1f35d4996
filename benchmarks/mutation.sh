#!/usr/bin/env bash
# Mutation testing of the critical modules (decoders, heads, transforms and geometry, the
# checkpoint readers, export/quantization policy, evaluation) with mutmut; not part of CI.
#
#   bash benchmarks/mutation.sh            # about 30-60 minutes on 2 cores
#
# Works on a clone of the committed tree in a scratch folder, with an interpreter that sees this
# environment's packages but not an editable manypose install (mutmut must import its own mutated
# copy). Needs mutmut (pip install 'manypose[mutation]') and ../shared (or $MANYPOSE_SHARED).
# Configuration: [tool.mutmut] in pyproject.toml. Prints mutmut's results and the score.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
git clone -q "$root" "$scratch/repo"
python3 -m venv "$scratch/venv"
python3 -c "import site; print(site.getsitepackages()[0])" > "$(echo "$scratch"/venv/lib/python3*/site-packages)/outer.pth"
export MANYPOSE_SHARED="${MANYPOSE_SHARED:-$root/../shared}"
cd "$scratch/repo"
mkdir -p mutants/src  # on the path from the start: Python remembers a missing folder as no folder
PYTHONPATH="$scratch/repo/mutants/src" "$scratch/venv/bin/python" -m mutmut run --max-children "${JOBS:-2}" >/dev/null
"$scratch/venv/bin/python" -m mutmut results --all true > "$scratch/results.txt" || true
"$scratch/venv/bin/python" - "$scratch/results.txt" <<'PY'
import collections, sys
lines = [line.strip() for line in open(sys.argv[1]) if ": " in line]
states = collections.Counter(line.rsplit(": ", 1)[1] for line in lines)
killed, total = states.get("killed", 0), sum(states.values())
for line in lines:
    if not line.endswith(": killed"):
        print(line)
print(dict(states))
print(f"mutation score: {killed} of {total} killed ({100 * killed / max(total, 1):.1f}%)")
PY
