"""The step benchmark, from a clone: the same as ``manual-backprop bench`` (torch_ref/bench.py).

    python scripts/bench.py [options]       # see --help
"""

import sys

from torch_ref.bench import main

if __name__ == "__main__":
    sys.exit(main())
