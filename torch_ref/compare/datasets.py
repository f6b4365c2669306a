"""Data sets for comparing the twins, in the manual net's layout (features × samples), and mini-batches.

- ``generated``: built in, needs no download. Inputs are standard normal;
  targets are a fixed smooth function of them (a random tanh "teacher" net),
  dense ``(D_O, n)`` or, for ``softmax_cross_entropy``, the teacher's argmax
  as class indices ``(n,)``.
- ``digits``: scikit-learn's bundled 8×8 handwritten digits (1797 samples,
  64 inputs, 10 classes), an optional extra: ``pip install "manual-backprop[digits]"``.
  Pixels (0 … 16) are scaled to [0, 1]; targets are class indices, or one-hot
  ``(10, n)`` for the dense losses.

NumPy only; scikit-learn is imported only when ``digits`` is asked for.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .._extras import MissingExtraError, missing_extra

DIGITS_SIZES = (64, 10)  # (D_I, D_O) of the digits data set
TEACHER_WIDTH = 8  # hidden width of the generated data set's teacher net


def generated(D_I: int, D_O: int, class_index: bool, n: int = 512, seed: int = 0):
    """Inputs (D_I, n) and targets (D_O, n), or class indices (n,) when ``class_index``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((D_I, n))
    V = rng.standard_normal((TEACHER_WIDTH, D_I)) / np.sqrt(D_I)
    U = rng.standard_normal((D_O, TEACHER_WIDTH)) / np.sqrt(TEACHER_WIDTH)
    T = U @ np.tanh(2.0 * (V @ X))  # (D_O, n): smooth, entries of order one
    return X, (T.argmax(axis=0) if class_index else T)


def digits(class_index: bool):
    """scikit-learn's digits: inputs (64, 1797) in [0, 1]; targets (1797,) or one-hot (10, 1797)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MissingExtraError(missing_extra("the digits data set", "scikit-learn", "digits")) from None
    data = load_digits()
    X = data.data.T / 16.0  # (64, n): pixel intensities 0 … 16 scaled to [0, 1]
    y = data.target  # (n,)
    if class_index:
        return X, y
    return X, np.eye(DIGITS_SIZES[1])[:, y]  # (10, n): one-hot columns


def minibatches(X: np.ndarray, Y: np.ndarray, batch_size: int, epochs: int,
                seed: int = 0) -> Iterator[tuple]:
    """(epoch, I (D_I, N), Y_batch) for each mini-batch of each epoch, reshuffled every epoch.

    The last batch of an epoch may be smaller. Y is (D_O, n) or (n,): its last axis is the sample.
    """
    rng = np.random.default_rng(seed)
    n = X.shape[1]
    for epoch in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            cols = order[start:start + batch_size]
            yield epoch, X[:, cols], Y[..., cols]


def n_batches(n: int, batch_size: int, epochs: int) -> int:
    """How many steps ``minibatches`` yields."""
    return epochs * -(-n // batch_size)
