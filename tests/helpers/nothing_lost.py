"""Test helper: a call that raises changes nothing, and the net trains normally afterwards.

"Nothing" is checked bit for bit (the bytes of every parameter, so even −0.0
against 0.0 would count), and "normally" means one training step on good data
gives bit-identical parameters to a net that never saw the bad call.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from helpers.common import random_batch, snapshot
from manual_backprop import MLP


def assert_params_identical(net, before: dict, what: str) -> None:
    """Every parameter has the same keys, dtype, shape and bytes as in ``before``."""
    assert list(net.params) == list(before), f"{what}: parameter keys changed to {list(net.params)}"
    for key, p in net.params.items():
        old = before[key]
        assert p.dtype == old.dtype and p.shape == old.shape, (
            f"{what}: {key} became {p.dtype} {p.shape}, was {old.dtype} {old.shape}")
        changed = int(np.count_nonzero(p != old))
        assert p.tobytes() == old.tobytes(), f"{what}: {key} changed in {changed} of {p.size} entries"


def assert_trains_normally(net, before: dict) -> None:
    """One good train_step on ``net`` matches, bit for bit, the same step on an untouched copy."""
    twin = MLP(net.sizes, net.activation, net.output_activation, net.loss_name, net.dtype, net.seed)
    for key, p in twin.params.items():
        p[...] = before[key]
    I, Y = random_batch(net.sizes, 6, loss=net.loss_name, seed=99)
    loss_net = net.train_step(I, Y, 0.05)
    loss_twin = twin.train_step(I, Y, 0.05)
    assert loss_net == loss_twin, f"loss after the failed call {loss_net!r}, untouched net {loss_twin!r}"
    assert_params_identical(net, snapshot(twin), "a good step after the failed call")


def assert_raises_nothing_lost(net, call, exc: type, fragment: str) -> None:
    """``call(net)`` raises ``exc`` with ``fragment`` in its message; params unchanged; net still trains."""
    before = snapshot(net)
    with pytest.raises(exc, match=re.escape(fragment)):
        call(net)
    assert_params_identical(net, before, f"a call raising {exc.__name__}")
    assert_trains_normally(net, before)
