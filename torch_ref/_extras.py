"""What to install for an optional part: one wording for every missing-extra message.

The wording is the one that works for anyone, a wheel's user as well as a
clone's: ``pip install "manual-backprop[plot]"``, not ``pip install -e ".[plot]"``.
NumPy only, so it can be imported where the extra is missing.
"""

from __future__ import annotations

# torch's default build on Linux brings CUDA (several GB); a CPU build comes from PyTorch's own index.
CPU_TORCH = "pip install torch --index-url https://download.pytorch.org/whl/cpu"


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def install_hint(extra: str) -> str:
    """The command that installs ``extra``, e.g. ``pip install "manual-backprop[plot]"``."""
    hint = f'pip install "manual-backprop[{extra}]"'
    if extra == "torch":
        hint += f" (for a CPU-only torch, first: {CPU_TORCH})"
    return hint


def missing_extra(what: str, package: str, extra: str) -> str:
    """``"<what> needs <package>: pip install "manual-backprop[<extra>]""``."""
    return f"{what} needs {package}: {install_hint(extra)}"
