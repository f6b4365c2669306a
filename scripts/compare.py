"""The main job, from a clone: the same as ``manual-backprop compare`` (torch_ref/compare/main.py).

    python scripts/compare.py [options]     # see --help
"""

import sys

from torch_ref.compare.main import main

if __name__ == "__main__":
    sys.exit(main())
