"""A fixed-seed smoke of every fuzz target (fuzz/targets.py): a few hundred mutations of each
target's seeds, the same ones each run, must end in the reader's documented error or in a
result. The long runs are benchmarks/fuzz.sh's."""
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # fuzz/ sits beside src/, not in the package
from fuzz.mutate import mutated  # noqa: E402
from fuzz.seeds import seeds_of  # noqa: E402
from fuzz.targets import TARGETS  # noqa: E402

EXAMPLES = 1000  # about 30 s for all targets together on 2 cores


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_mutated_seeds_end_in_the_readers_own_errors(name):
    target, seeds = TARGETS[name], seeds_of(name)
    assert seeds, f"no seeds for {name}"

    @settings(derandomize=True, database=None, max_examples=EXAMPLES, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(rng=st.randoms(use_true_random=False))
    def mutation_of_a_seed(rng):
        target(mutated(seeds, rng))

    mutation_of_a_seed()
