"""manual_backprop: a multilayer perceptron with backpropagation written by hand in NumPy.

NumPy only: importing this package never loads torch. See ``MLP`` for the
class and ``network``, ``layers``, ``activations`` and ``losses`` for the math,
each backward directly below its forward.
"""

from .activations import ACTIVATIONS
from .losses import LOSSES
from .mlp import MLP
from .validation import SUPPORTED_DTYPES

__version__ = "0.1.0"  # the one source: pyproject.toml reads it, `manual-backprop --version` prints it

__all__ = ["MLP", "ACTIVATIONS", "LOSSES", "SUPPORTED_DTYPES"]
