"""Graded cases drawn from a seed, for courses that keep the seed secret. NumPy only.

    cases = draw_cases(20260415)      # widths, batch sizes, weights and data all from the seed

The same seed always gives the same cases, so every student (and every shard of
a batch) is graded on the same nets. The draws keep the diagnosis unambiguous:

- one case has N = 1 (a per-sample bias gradient is the summed one there, so
  the other cases catch it); every other N is in [3, 40], never 2, where a
  factor N cannot be told from the factor 2;
- the output width D_O is never 2 (a mean over two outputs is the factor 2),
  and at least one case has D_O ≥ 3 and N ≥ 3 with N ≠ D_O, so a mean over the
  batch and a mean over the outputs differ somewhere.

Each case keeps one hidden layer (the seed's names ``W_H, b_H, W_O, b_O``).
"""

from __future__ import annotations

import numpy as np

from .cases import Case

OUTPUT_WIDTHS = (1, 3, 4, 5, 6)


def draw_cases(seed: int, count: int = 4) -> tuple:
    """``count`` (≥ 2) one-hidden-layer Cases drawn from ``seed``, under the rules above."""
    if count < 2:
        raise ValueError(f"count must be at least 2 (one N = 1 case and one N ≥ 3); got {count}")
    rng = np.random.default_rng([seed, 0x6b1d])
    cases = []
    for i in range(count):
        D_I, D_H = int(rng.integers(1, 9)), int(rng.integers(2, 21))
        D_O = int(rng.choice(OUTPUT_WIDTHS[1:] if i == 1 else OUTPUT_WIDTHS))
        N = 1 if i == 0 else int(rng.integers(3, 41))
        while i == 1 and N == D_O:
            N = int(rng.integers(3, 41))
        cases.append(Case(f"drawn {D_I}-{D_H}-{D_O}, N={N}", (D_I, D_H, D_O), N,
                          int(rng.integers(0, 2**31 - 1))))
    order = rng.permutation(count)
    return tuple(cases[j] for j in order)
