#!/usr/bin/env bash
# Mutation testing of the critical modules (decoders, encoders, losses, transforms and geometry,
# the checkpoint readers, export/quantization policy, evaluation, tracking) with mutmut; not CI.
#
#   bash benchmarks/mutation.sh            # several hours on 2 cores; JOBS=N workers (default 2)
#
# Works on a clone of the committed tree in $MUTATION_WORK (default .mutation/, git-ignored), with
# an interpreter that sees this environment's packages but not an editable manypose install
# (mutmut must import its own mutated copy). Stopped and run again on the same commit, it goes on
# where it stopped; a new commit starts afresh. Needs mutmut (pip install 'manypose[mutation]')
# and ../shared (or $MANYPOSE_SHARED). Configuration: [tool.mutmut] in pyproject.toml.
# Prints every mutant not killed, the counts by state and the score (timeouts counted both ways).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(realpath -m "${MUTATION_WORK:-$root/.mutation}")"
commit="$(git -C "$root" rev-parse HEAD)"
if [ "$(cat "$work/commit" 2>/dev/null)" != "$commit" ]; then
    rm -rf "$work"
    mkdir -p "$work"
    git clone -q "$root" "$work/repo"
    git -C "$work/repo" checkout -q "$commit"
    python3 -m venv "$work/venv"
    python3 -c "import site; print(site.getsitepackages()[0])" > "$(echo "$work"/venv/lib/python3*/site-packages)/outer.pth"
    mkdir -p "$work/repo/mutants/src"  # on the path from the start: Python remembers a missing folder as no folder
    echo "$commit" > "$work/commit"
fi
export MANYPOSE_SHARED="${MANYPOSE_SHARED:-$root/../shared}"
# one thread per test: mutmut's timeouts count CPU seconds, and a multi-threaded runtime spends
# them several times faster than the clean run that set the limit, timing out sound mutants
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
cd "$work/repo"
PYTHONPATH="$work/repo/mutants/src" "$work/venv/bin/python" -m mutmut run --max-children "${JOBS:-2}" >/dev/null || true
"$work/venv/bin/python" -m mutmut results --all true > "$work/results.txt" || true
"$work/venv/bin/python" - "$work/results.txt" <<'PY'
import collections, sys
lines = [line.strip() for line in open(sys.argv[1]) if ": " in line]
states = collections.Counter(line.rsplit(": ", 1)[1] for line in lines)
killed, timeouts, total = states.get("killed", 0), states.get("timeout", 0), sum(states.values())
for line in lines:
    if not line.endswith((": killed", ": timeout")):
        print(line)
print(dict(states))
print(f"mutation score: {killed + timeouts} of {total} detected ({100 * (killed + timeouts) / max(total, 1):.1f}%), "
      f"{killed} killed by a failing test ({100 * killed / max(total, 1):.1f}%)")
PY
