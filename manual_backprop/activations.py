"""Element-wise activations: each forward with its backward directly below.

Letters used in shapes: ``D`` is a layer's width, ``N`` the batch size. Every
function here is element-wise, so ``Z`` (the pre-activation), ``A = f(Z)``
(the activation) and their gradients all share one shape, ``(D, N)``.

A backward takes the upstream gradient ``dA = dL/dA`` together with the cached
``Z`` and ``A`` of the forward, and returns ``dZ = dL/dZ = dA ⊙ f'(Z)``. Where
the seed and torch write the derivative in terms of the output, so does this
module: the seed's sigmoid rule ``dL/dH = dL/dĤ ⊙ Ĥ ⊙ (1 − Ĥ)`` is the example,
and tanh's ``1 − A²`` follows it. Near saturation these lose relative precision
to cancellation (``1 − Ĥ`` of an Ĥ within a few ulps of 1), in torch as here;
``manual_backprop.oracle.tolerances`` says what that means for comparisons.

The forms are numerically stable: no ``exp`` is ever taken of a large positive
number, so pre-activations of ±1e4 give no overflow, NaN or warning in float32
or float64. Where torch chooses a value (the subgradient of relu at 0, the
threshold of softplus), these functions choose the same one.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

LEAKY_RELU_SLOPE = 0.01  # torch.nn.LeakyReLU's default negative_slope
SOFTPLUS_THRESHOLD = 20.0  # torch.nn.Softplus: above this, softplus(z) = z
ELU_ALPHA = 1.0  # torch.nn.ELU's default alpha


def sigmoid_forward(Z: np.ndarray) -> np.ndarray:
    """Seed: Ĥ = f(H) with f = σ, σ(H) = 1 / (1 + e^(−H)), written so that no exp overflows.

    With ``e = e^(−|z|)``, which never exceeds 1, σ(z) is ``1 / (1 + e)`` for
    z ≥ 0 and ``e / (1 + e)`` for z < 0: both exact rewritings of σ.
    """
    e = np.exp(-np.abs(Z))  # (D, N), each entry in (0, 1]
    return np.where(Z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Seed: dL/dH = dL/dĤ ⊙ Ĥ ⊙ (1 − Ĥ), using the cached output Ĥ = A."""
    return dA * A * (1 - A)


def tanh_forward(Z: np.ndarray) -> np.ndarray:
    """A = tanh(Z); np.tanh is bounded and never overflows."""
    return np.tanh(Z)


def tanh_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dL/dZ = dL/dA ⊙ (1 − A²), using the cached output."""
    return dA * (1 - A * A)


def relu_forward(Z: np.ndarray) -> np.ndarray:
    """A = max(Z, 0)."""
    return np.maximum(Z, 0)


def relu_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dL/dZ = dL/dA ⊙ [Z > 0]; the subgradient at Z = 0 is 0, as in torch."""
    return dA * (Z > 0)


def leaky_relu_forward(Z: np.ndarray) -> np.ndarray:
    """A = Z where Z > 0, else 0.01 · Z (torch's default slope)."""
    return np.where(Z > 0, Z, Z * LEAKY_RELU_SLOPE)


def leaky_relu_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dL/dZ = dL/dA where Z > 0, else 0.01 · dL/dA; at Z = 0 the slope is 0.01, as in torch."""
    return np.where(Z > 0, dA, dA * LEAKY_RELU_SLOPE)


def identity_forward(Z: np.ndarray) -> np.ndarray:
    """A = Z (the seed's linear output layer). Returns Z itself, not a copy."""
    return Z


def identity_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dL/dZ = dL/dA. Returns dA itself, not a copy."""
    return dA


def softplus_forward(Z: np.ndarray) -> np.ndarray:
    """A = log(1 + e^Z), as torch.nn.Softplus (beta 1, threshold 20).

    ``np.logaddexp(0, z) = max(z, 0) + log1p(e^(−|z|))`` never overflows. Above
    the threshold torch returns z itself, and so does this function.
    """
    return np.where(Z > SOFTPLUS_THRESHOLD, Z, np.logaddexp(0, Z))


def softplus_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dL/dZ = dL/dA ⊙ σ(Z); above the threshold the derivative is 1, as in torch."""
    return dA * np.where(Z > SOFTPLUS_THRESHOLD, 1.0, sigmoid_forward(Z))


def elu_forward(Z: np.ndarray) -> np.ndarray:
    """A = Z where Z > 0, else α(e^Z − 1), with α = 1; expm1 only sees Z ≤ 0."""
    return np.where(Z > 0, Z, ELU_ALPHA * np.expm1(np.minimum(Z, 0)))


def elu_backward(dA: np.ndarray, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dL/dZ = dL/dA where Z > 0, else dL/dA ⊙ α e^Z (at Z = 0 the slope is α, as in torch).

    Written with e^Z, not as the equal A + α: for Z ≪ 0, A ≈ −α and A + α
    would cancel to a few correct digits (or to 0), while e^Z keeps full
    relative precision. torch's ELU backward uses e^Z too.
    """
    return np.where(Z > 0, dA, dA * (ELU_ALPHA * np.exp(np.minimum(Z, 0))))  # e^Z ≤ 1: no overflow


class Activation(NamedTuple):
    """A named forward/backward pair, with the text of both formulas.

    ``formula`` is f written with ``{Z}``; ``derivative`` is f′ as *this
    code* computes it, with ``{Z}`` and ``{A}`` standing for the layer's
    pre-activation and activation (``explain`` and the oracle's hints fill in
    the seed's names, e.g. ``Ĥ ⊙ (1 − Ĥ)``). Keep each text beside the code it describes.
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    formula: str = "{Z}"  # every registry entry gives both texts; variants made
    derivative: str = "f′({Z})"  # in code (the oracle's wrong-derivative hypotheses) need not

    def derivative_text(self, Z: str, A: str) -> str:
        """f′ with the layer's own symbols, e.g. ``Ĥ ⊙ (1 − Ĥ)`` for the seed's hidden layer."""
        return self.derivative.format(Z=Z, A=A)


_ALPHA = "" if ELU_ALPHA == 1 else f"{ELU_ALPHA:g} "  # ELU's α in the texts, left out when it is 1

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", sigmoid_forward, sigmoid_backward,
                   "1 / (1 + e^(−{Z}))", "{A} ⊙ (1 − {A})"),
        Activation("tanh", tanh_forward, tanh_backward, "tanh({Z})", "(1 − {A}²)"),
        Activation("relu", relu_forward, relu_backward, "max({Z}, 0)", "[{Z} > 0]"),
        Activation("leaky_relu", leaky_relu_forward, leaky_relu_backward,
                   f"where({{Z}} > 0, {{Z}}, {LEAKY_RELU_SLOPE:g} {{Z}})",
                   f"where({{Z}} > 0, 1, {LEAKY_RELU_SLOPE:g})"),
        Activation("identity", identity_forward, identity_backward, "{Z}", "1"),
        Activation("softplus", softplus_forward, softplus_backward,
                   f"log(1 + e^{{Z}}), {{Z}} itself above {SOFTPLUS_THRESHOLD:g}",
                   f"σ({{Z}}), 1 above {SOFTPLUS_THRESHOLD:g}"),
        Activation("elu", elu_forward, elu_backward,
                   f"where({{Z}} > 0, {{Z}}, {_ALPHA}(e^{{Z}} − 1))",
                   f"where({{Z}} > 0, 1, {_ALPHA}e^{{Z}})"),
    )
}


def get_activation(name: str, argument: str = "activation") -> Activation:
    """Look an activation up by name; an unknown name is a ValueError listing the known ones."""
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a str naming an activation, one of "
                        f"{sorted(ACTIVATIONS)}; got {type(name).__name__} {name!r}")
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown {argument} {name!r}; known activations: "
                         f"{', '.join(sorted(ACTIVATIONS))}") from None
