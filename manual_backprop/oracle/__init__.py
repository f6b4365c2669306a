"""The gradient oracle, NumPy only: judge anyone's gradients for a net and name the mistake.

- ``tolerances``: the one per-dtype table of how close is close, with its reasons.
- ``finite_differences``: the torch-free reference, central differences in float64.
- ``comparison``: candidate against reference, per parameter (``check_gradients_fd``).
- ``diagnosis``: the mistake behind a wrong gradient, as a code.
- ``hints``: one line per diagnosis, with the seed equation that fixes it.
- ``report``: the per-parameter verdicts and their table.
- ``parts``: the graders of a student's forward, loss and SGD step.
- ``graded``: the registry of the seed's graded functions: each one's signature, the kind of
  value it returns and the words for it.
- ``cases``: the graded nets and data, and ``grade`` for a student's ``backward`` (and other parts);
  ``hidden``: cases drawn from a seed.
- The grader's isolation: ``isolation`` (a student's functions run in a child,
  seen from the grader), ``child`` (the child's side), ``proxies``, ``exchange``
  (the npz messages), ``batch`` (many submissions, the reference cache),
  ``formats`` (text, JSON, Gradescope), ``notebooks``.

``torch_ref.check_gradients`` is the same check against autograd.
"""

from .comparison import check_gradients_fd
from .report import GradientReport, ParamCheck

__all__ = ["check_gradients_fd", "GradientReport", "ParamCheck"]
