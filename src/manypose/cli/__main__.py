"""`python -m manypose.cli` and `torchrun -m manypose.cli train ...`."""
import sys

from . import main

sys.exit(main())
