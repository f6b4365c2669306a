"""The hypotheses a wrong gradient is read against: the net's gradients recomputed under one mistake.

NumPy only. Each generator reruns the net (float64 copies; neither ``net.params``
nor the net's forward cache is touched) with one mistake made, and returns the
gradients that mistake gives, labelled with what it is and its code.
``manual_backprop.oracle.diagnosis`` then fits a candidate to each of them as it
fits it to the right gradient, so a recomputed mistake combines with a factor
and a shape.

- ``activation_hypotheses``: a hidden (or non-identity output) activation's
  derivative taken wrong (``activation_derivative``).
- ``forward_hypotheses``: a forward mistake the backward inherits
  (``forward_mistake``); ``forward_mistakes`` lists those forwards, which the
  forward part's grader (``parts``) reads too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..activations import ACTIVATIONS, Activation
from ..explain import layer_symbols
from ..network import network_backward, network_forward
from ..validation import as_targets


class Hypothesis(NamedTuple):
    """Gradients recomputed under one mistake, what that mistake is, and its code."""

    label: str
    grads: dict
    kind: str = "activation_derivative"


def _wrong_derivatives(act: Activation, Z: str, A: str) -> list[tuple[str, Activation]]:
    """Activations with ``act``'s forward and a mistaken backward, each with its description."""
    f, b = act.forward, act.backward
    out = [
        (f"{act.name}′ evaluated at the output {A} instead of at {Z} "
         f"(the derivative applied twice)",
         Activation(act.name, f, lambda dA, Z_, A_: b(dA, A_, f(A_)))),
        (f"{act.name}′ written with {Z} where its formula needs {A} (the wrong cached tensor)",
         Activation(act.name, f, lambda dA, Z_, A_: b(dA, Z_, Z_))),
        (f"{act.name}′ left out: dL/d{Z} taken as dL/d{A}",
         Activation(act.name, f, lambda dA, Z_, A_: dA)),
    ]
    for other in ACTIVATIONS.values():
        if other.name not in (act.name, "identity"):
            out.append((f"{other.name}′ used for a {act.name} layer", Activation(act.name, f, other.backward)))
    return out


def _float64_setup(net, I, Y):
    params = {k: np.array(v, dtype=np.float64) for k, v in net.params.items()}
    I = np.asarray(I, dtype=np.float64)
    Y = as_targets(Y, net.loss_function, net.sizes[-1], I.shape[1], np.dtype(np.float64), "I's batch")
    return params, I, Y


def activation_hypotheses(net, I: np.ndarray, Y: np.ndarray) -> list[Hypothesis]:
    """The net's gradients recomputed (float64) with each wrong activation derivative substituted.

    The substitution is made in every hidden layer at once and, for deeper nets,
    in each hidden layer alone; also in the output layer when its activation is
    not the identity. Uses copies: neither ``net.params`` nor the net's forward
    cache is touched. I: (D_I, N); Y: (D_O, N) or class indices (N,).
    """
    params, I, Y = _float64_setup(net, I, Y)
    acts = list(net.layer_activations)
    O, cache = network_forward(params, net.layer_names, acts, I)
    dO = net.loss_function.backward(O, Y)  # (D_O, N)
    symbols = layer_symbols(len(acts), net.output_activation)
    hidden = list(range(len(acts) - 1))
    scopes = [(hidden, "")] if hidden else []
    if len(hidden) > 1:
        scopes += [([i], f" in layer {symbols[i].name} only") for i in hidden]
    if net.output_activation != "identity":
        scopes.append(([len(acts) - 1], " in the output layer"))
    out = []
    for layers, where in scopes:
        s = symbols[layers[0]]
        Z, A = (s.Z, s.A) if len(layers) == 1 else ("H", "Ĥ")
        for label, wrong in _wrong_derivatives(acts[layers[0]], Z, A):
            substituted = [wrong if i in layers else a for i, a in enumerate(acts)]
            grads = network_backward(params, net.layer_names, substituted, cache, dO)
            out.append(Hypothesis(label + where, grads))
    return out


class ForwardMistake(NamedTuple):
    """A forward written wrong: what it does, the code, the parameters and activations it really uses."""

    label: str
    code: str
    params: dict
    activations: list


def forward_mistakes(net) -> list[ForwardMistake]:
    """The forward mistakes students make, as nets that compute them (float64 copies).

    Codes: ``bias_missing`` (a bias left out), ``output_activation`` (the hidden
    activation applied to the output too, on an identity output layer),
    ``wrong_activation`` (another activation in the hidden layers).
    """
    params = {k: np.array(v, dtype=np.float64) for k, v in net.params.items()}
    acts = list(net.layer_activations)
    names = list(net.layer_names)
    out = []
    for drop in [[n] for n in names] + ([names] if len(names) > 1 else []):
        zeroed = dict(params, **{"b_" + n: np.zeros_like(params["b_" + n]) for n in drop})
        out.append(ForwardMistake("your forward leaves out " + " and ".join("b_" + n for n in drop),
                                  "bias_missing", zeroed, acts))
    if net.output_activation == "identity" and len(acts) > 1:
        out.append(ForwardMistake(f"your forward applies {net.activation} to the output O too",
                                  "output_activation", params, acts[:-1] + [acts[0]]))
    for other in ACTIVATIONS.values():
        if other.name != net.activation and len(acts) > 1:
            label = (f"your forward leaves out {net.activation} (Ĥ = H)" if other.name == "identity" else
                     f"your forward uses {other.name} where the net has {net.activation}")
            out.append(ForwardMistake(label, "wrong_activation", params, [other] * (len(acts) - 1) + acts[-1:]))
    return out


def forward_hypotheses(net, I: np.ndarray, Y: np.ndarray) -> list[Hypothesis]:
    """Gradients a backward inherits from each forward mistake (float64; the net is untouched).

    Two backwards per mistake: the true gradient of the mistaken forward, and the
    net's own backward equations (e.g. the seed's Ĥ(1 − Ĥ)) run on the mistaken
    forward's tensors. The gradient of a left-out bias is still reported.
    """
    _, I, Y = _float64_setup(net, I, Y)
    acts = list(net.layer_activations)
    out = []
    for m in forward_mistakes(net):
        O, cache = network_forward(m.params, net.layer_names, m.activations, I)
        dO = net.loss_function.backward(O, Y)
        label = m.label + "; the gradients inherit it"
        out.append(Hypothesis(label, network_backward(m.params, net.layer_names, m.activations, cache, dO),
                              "forward_mistake"))
        if [a.name for a in m.activations] != [a.name for a in acts]:
            out.append(Hypothesis(label, network_backward(m.params, net.layer_names, acts, cache, dO),
                                  "forward_mistake"))
    return out
