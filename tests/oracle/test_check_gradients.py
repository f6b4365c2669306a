"""The oracle used as course suites use it: manual_backprop's own gradients pass it in every configuration.

Every activation (hidden and output) and every loss, on a deep non-square net;
the report's table is the failure message.
"""

from __future__ import annotations

import pytest

from helpers.common import random_batch
from manual_backprop import ACTIVATIONS, LOSSES, MLP
from torch_ref import check_gradients

CONFIGS = ([pytest.param(act, "identity", loss, id=f"{act}-identity-{loss}")
            for act in ACTIVATIONS for loss in LOSSES]
           + [pytest.param("tanh", out, "half_sse", id=f"tanh-{out}-half_sse")
              for out in ACTIVATIONS if out != "identity"])


@pytest.mark.parametrize("activation,output_activation,loss", CONFIGS)
def test_library_gradients_pass_the_oracle(activation, output_activation, loss, dtype):
    sizes = [3, 6, 4, 2]
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=dtype, seed=2)
    I, Y = random_batch(sizes, 5, loss=loss, seed=6, scale=2.0)
    net.forward(I)
    report = check_gradients(net, I, Y, net.backward(Y))
    assert report.passed, str(report)
