"""Property tests: for any drawn net and batch, every gradient matches autograd.

Hypothesis draws the depth (1–4 hidden layers), every width (1–32), the batch
(1–64), the hidden and output activations, the loss, the dtype, the input
scale (10⁻³ to 10⁴, log-uniform) and the seeds. Inputs of scale 10⁴ saturate
units, so errors are measured against the rounding-error scales of
``error_scales`` (never stricter than the table's plain check; see there why).

The examples are derandomized and the example database is off: every run, on
every machine and in every xdist worker, tests the same examples, so CI is
not flaky and a failure reproduces.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.autograd_check import check_against_autograd
from helpers.common import DTYPES, random_batch, snapshot
from manual_backprop import ACTIVATIONS, LOSSES, MLP

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow])


@st.composite
def nets_and_batches(draw, loss: str, dtype):
    """(net, I, Y): a random configuration for ``loss`` and ``dtype``, its seeded weights and batch."""
    depth = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 32), min_size=depth + 2, max_size=depth + 2))
    N = draw(st.integers(1, 64))
    activation = draw(st.sampled_from(sorted(ACTIVATIONS)))
    output_activation = ("identity" if LOSSES[loss].targets == "class_index"
                         else draw(st.sampled_from(sorted(ACTIVATIONS))))
    scale = 10.0 ** draw(st.floats(-3.0, 4.0))
    seed = draw(st.integers(0, 2**32 - 1))
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=dtype, seed=seed)
    I, Y = random_batch(sizes, N, loss=loss, seed=seed + 1, scale=scale)
    return net, I, Y


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("loss", LOSSES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_every_gradient_matches_autograd(loss, dtype, data):
    """One test per loss and dtype, so that xdist spreads the examples over its workers."""
    net, I, Y = data.draw(nets_and_batches(loss, dtype), label="net, I, Y")
    before = snapshot(net)
    check_against_autograd(net, I, Y, rounding_scaled=True)
    for key, p in net.params.items():
        assert np.array_equal(p, before[key]), f"forward/backward changed {key}"


@pytest.mark.parametrize("sizes,N,activation,output_activation,loss,dtype,scale", [
    pytest.param([1, 1, 1], 1, "tanh", "tanh", "half_sse", np.float32, 1e4, id="all-width1-saturated-f32"),
    pytest.param([32, 1, 32, 1, 32, 2], 64, "sigmoid", "identity", "softmax_cross_entropy",
                 np.float64, 1e-3, id="bottlenecks-tiny-inputs-f64"),
    pytest.param([32, 32, 32, 32, 32, 32], 64, "relu", "identity", "mse", np.float32, 1e4,
                 id="widest-deepest-huge-inputs-f32"),
])
def test_corners_of_the_drawn_space(sizes, N, activation, output_activation, loss, dtype, scale):
    """The corners hypothesis may or may not reach in its fixed examples."""
    net = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
              dtype=dtype, seed=0)
    I, Y = random_batch(sizes, N, loss=loss, seed=1, scale=scale)
    check_against_autograd(net, I, Y, rounding_scaled=True)
