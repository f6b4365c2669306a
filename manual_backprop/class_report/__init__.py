"""The class report: which mistakes how many students made, for a teacher. Standard library only
(but ``heatmaps``, which draws ``grade --plot``'s pictures with NumPy and matplotlib).

    manual-backprop report class.json [--html class.html] [--csv class.csv] [--plots DIR]

- ``inputs``: read the grader's JSON (shards merged) and autograder ``results.json`` files;
- ``tally``: count submissions by part and code, by mistake and by graded case;
- ``terminal``: the counts as text, and the CSV for a gradebook;
- ``page``: the self-contained HTML page (``page.html`` filled in);
- ``pictures``: where the heatmaps of a submission are, to link them;
- ``command``: the command line.
"""

from __future__ import annotations

from .inputs import Graded, InputError, read_class
from .tally import Tally, tally

__all__ = ["Graded", "InputError", "Tally", "read_class", "tally"]
