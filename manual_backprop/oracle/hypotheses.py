"""The hypotheses a wrong gradient is read against: the net's gradients recomputed under a mistake.

NumPy only. Each hypothesis is a dict of gradients keyed like the net's
parameters, labelled with what the mistake is and its code (``kind``).
``manual_backprop.oracle.diagnosis`` fits a candidate to each as it fits it to
the right gradient, so a hypothesis combines with a factor and a shape.
Everything is computed on float64 copies: neither ``net.params`` nor the net's
forward cache is touched.

Recomputed mistakes (``recomputed_mistakes``), each changing one stage of the
backward, so that two of different stages can be made together (``Reruns``):

- ``activation_derivative``: a hidden activation's derivative taken wrong
  (at the output Ĥ, written with H, left out, another activation's);
- ``output_activation_derivative``: an activation's derivative applied at a
  linear output (σ′ at O), or the output's own derivative left out;
- ``pre_activation``: H used where Ĥ belongs in dL/dW = dL/dZ · Xᵀ of the
  layers above the first (dL/dW_O = dL/dO · Hᵀ);
- ``forward_mistake``: a forward mistake the backward inherits
  (``forward_mistakes`` lists those forwards, which the forward part's grader
  in ``parts`` reads too);
- ``one_sample``: the gradient of the first or of the last sample only;
- ``product_of_sums``: dL/dW = (Σₙ dL/dZₙ)(Σₙ Xₙ)ᵀ, the batch summed before the
  outer product;
- ``wrong_axis``: a bias gradient summed over the features (axis 0) instead of
  the batch, shape (1, N); compared by its entries whatever shape it comes in.

Mistakes that need no rerun (``key_hypotheses``): ``returned_parameters`` (the
parameter's own values), ``weight_decay`` (λ·W added, λ fitted by the
diagnosis) and ``swapped_with_<name>`` (another parameter's right gradient
under this key).
"""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple, Optional, Sequence

import numpy as np

from ..activations import ACTIVATIONS, Activation
from ..explain import layer_symbols
from ..network import network_forward
from ..validation import as_targets
from .tolerances import Tolerance, is_close

# The codes a reading names after its shape and factor causes, in this order (a pair is joined by +).
KIND_ORDER = ("update_not_gradient", "weight_decay", "activation_derivative", "output_activation_derivative",
              "pre_activation", "forward_mistake", "one_sample", "product_of_sums", "wrong_axis",
              "returned_parameters", "swapped_with_")
# How many pairs of recomputed mistakes are tried per net, most likely first: the time budget of the
# search (each pair is one rerun of the net; ``scripts/diagnosis_cost.py`` measures what it costs).
PAIR_BUDGET = 400


@functools.lru_cache(maxsize=None)
def kind_rank(kind: str) -> int:
    """A code's place in KIND_ORDER (``swapped_with_W_O`` by its prefix)."""
    return next(i for i, k in enumerate(KIND_ORDER) if kind == k or (k.endswith("_") and kind.startswith(k)))


class Hypothesis(NamedTuple):
    """Gradients recomputed under a mistake, what the mistake is, and its code (``kind``).

    ``free_shape``: compared by its entries whatever the candidate's shape (the
    shape is part of the mistake). ``added``: ``grads`` holds a term added to the
    right gradient with a fitted weight (λ·W), not a gradient.
    """

    label: str
    grads: dict
    kind: str = "activation_derivative"
    free_shape: bool = False
    added: bool = False


class Mistake(NamedTuple):
    """One recomputed mistake: its label and code, the stage of the backward it changes, and how.

    settings: ``params``/``forward``/``backward`` (a forward mistake: the
    parameters and activations the forward uses, the activations the backward
    differentiates), ``derivatives`` ({layer index: Activation with the wrong
    backward}), ``pre_activation``, ``product_of_sums``, ``wrong_axis`` (True),
    ``sample`` (0 or -1).
    """

    label: str
    kind: str
    stage: str
    settings: dict


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


class Setup:
    """One net and batch in float64, with its right forward, for reruns under mistakes."""

    def __init__(self, net, I: np.ndarray, Y: np.ndarray):
        self.net = net
        self.params, self.I, self.Y = _float64_setup(net, I, Y)
        self.names = list(net.layer_names)
        self.acts = list(net.layer_activations)
        self.O, self.cache = network_forward(self.params, self.names, self.acts, self.I)
        self.dO = net.loss_function.backward(self.O, self.Y)  # (D_O, N)
        self._forwards: dict = {}

    def forward(self, params: dict, activations: Sequence[Activation]) -> tuple:
        """(cache, dL/dO) of a mistaken forward, computed once: each is met again in every pair."""
        key = (id(params), tuple(id(a) for a in activations))
        if key not in self._forwards:
            O, cache = network_forward(params, self.names, activations, self.I)
            self._forwards[key] = (params, activations, cache, self.net.loss_function.backward(O, self.Y))
        return self._forwards[key][2:]


def recompute(setup: Setup, mistakes: Sequence[Mistake]) -> dict:
    """The gradients (keyed like params) of the net's backward with every mistake in ``mistakes`` made.

    Per layer, last first: dZ = f′ (the layer's, or the mistaken one) applied to
    dA; dW = dZ · Xᵀ (X: the layer's input, or the layer below's pre-activation
    under ``pre_activation``; both summed over the batch first under
    ``product_of_sums``); db = dZ summed over the batch (over the features under
    ``wrong_axis``); dA below = Wᵀ · dZ. ``sample`` keeps one column of the batch.
    """
    s: dict = {"derivatives": {}}
    for m in mistakes:
        s.update({k: v for k, v in m.settings.items() if k != "derivatives"})
        s["derivatives"].update(m.settings.get("derivatives", {}))
    params, names = s.get("params", setup.params), setup.names
    if "forward" in s:
        cache, dA = setup.forward(params, s["forward"])
    else:
        cache, dA = setup.cache, setup.dO
    backward = list(s.get("backward", setup.acts))
    for i, wrong in s["derivatives"].items():
        backward[i] = wrong
    if "sample" in s:
        n = s["sample"]
        cache = [tuple(t[:, n:n + 1] if n != -1 else t[:, -1:] for t in layer) for layer in cache]
        dA = dA[:, n:n + 1] if n != -1 else dA[:, -1:]
    grads = {}
    for i in reversed(range(len(names))):
        X, Z, A = cache[i]
        dZ = backward[i].backward(dA, Z, A)  # (D_out, N)
        if s.get("pre_activation") and i > 0:
            X = cache[i - 1][1]
        if s.get("product_of_sums"):
            dW = dZ.sum(axis=1, keepdims=True) @ X.sum(axis=1, keepdims=True).T
        else:
            dW = dZ @ X.T
        db = dZ.sum(axis=0, keepdims=True) if s.get("wrong_axis") else dZ.sum(axis=1, keepdims=True)
        grads["W_" + names[i]], grads["b_" + names[i]] = dW, db
        if i > 0:
            dA = params["W_" + names[i]].T @ dZ
    return {key: grads[key] for key in setup.params}


def _derivative_mistakes(net) -> list[Mistake]:
    """Wrong activation derivatives: in every hidden layer at once, in each alone (deeper nets), and
    at the output (σ′ at a linear O, or a non-linear output's derivative taken wrong or left out)."""
    acts = list(net.layer_activations)
    symbols = layer_symbols(len(acts), net.output_activation)
    hidden = list(range(len(acts) - 1))
    scopes = [(hidden, "")] if hidden else []
    if len(hidden) > 1:
        scopes += [([i], f" in layer {symbols[i].name} only") for i in hidden]
    out = []
    for layers, where in scopes:
        s = symbols[layers[0]]
        Z, A = (s.Z, s.A) if len(layers) == 1 else ("H", "Ĥ")
        for label, wrong in _wrong_derivatives(acts[layers[0]], Z, A):
            out.append(Mistake(label + where, "activation_derivative", "derivative",
                               {"derivatives": {i: wrong for i in layers}}))
    last = len(acts) - 1
    if net.output_activation != "identity":
        s = symbols[last]
        for label, wrong in _wrong_derivatives(acts[last], s.Z, s.A):
            kind = "output_activation_derivative" if "left out" in label else "activation_derivative"
            out.append(Mistake(label + " in the output layer", kind, "output_derivative", {"derivatives": {last: wrong}}))
    elif hidden:
        act = acts[0]
        f, b = act.forward, act.backward
        for label, backward in [
            (f"{act.name}′ applied at the linear output O, written with O ({act.derivative_text('O', 'O')})",
             lambda dA, Z_, A_: b(dA, Z_, Z_)),
            (f"{act.name}′(O) applied at the linear output O", lambda dA, Z_, A_: b(dA, Z_, f(Z_))),
        ]:
            out.append(Mistake(label, "output_activation_derivative", "output_derivative",
                               {"derivatives": {last: Activation(acts[last].name, acts[last].forward, backward)}}))
    return out


def recomputed_mistakes(net) -> list[Mistake]:
    """Every recomputed mistake for this net, one stage each (see the module's list)."""
    acts = list(net.layer_activations)
    out = _derivative_mistakes(net)
    if len(acts) > 1:
        out.append(Mistake("", "pre_activation", "weight_input", {"pre_activation": True}))
    for m in forward_mistakes(net):
        label = m.label + "; the gradients inherit it"
        out.append(Mistake(label, "forward_mistake", "forward",
                           {"params": m.params, "forward": m.activations, "backward": m.activations}))
        if [a.name for a in m.activations] != [a.name for a in acts]:
            out.append(Mistake(label, "forward_mistake", "forward",
                               {"params": m.params, "forward": m.activations, "backward": acts}))
    out += [
        Mistake("only the first sample's gradient (n = 0)", "one_sample", "sample", {"sample": 0}),
        Mistake("only the last sample's gradient (n = N − 1)", "one_sample", "sample", {"sample": -1}),
        Mistake("", "product_of_sums", "weight_product", {"product_of_sums": True}),
        Mistake("", "wrong_axis", "bias_axis", {"wrong_axis": True}),
    ]
    return out


def _hypothesis(mistakes: Sequence[Mistake], grads: dict) -> Hypothesis:
    ordered = sorted(mistakes, key=lambda m: kind_rank(m.kind))
    return Hypothesis("; ".join(m.label for m in ordered if m.label), grads, "+".join(m.kind for m in ordered),
                      free_shape=any(m.kind == "wrong_axis" for m in mistakes))


class Reruns:
    """One net's recomputed mistakes, alone and in pairs, each rerun at most once and only when asked.

    The pairs are those of two mistakes of different stages, the ones students
    make most first (two derivative mistakes, hidden and output; a derivative
    and a forward mistake; then the rest), at most ``budget`` of them: the time
    budget of the search, in reruns, so that the same file always gets the
    same name. A pair is read on a parameter only when each of its mistakes
    alone reaches that parameter: the stages are separate, so a mistake that
    leaves a parameter's gradient alone (a hidden derivative, for W_O) leaves
    it alone in a pair too, and the pair there is the other mistake alone.
    """

    def __init__(self, net, I: np.ndarray, Y: np.ndarray, budget: int = PAIR_BUDGET):
        self.setup = Setup(net, I, Y)
        self.mistakes = recomputed_mistakes(net)
        pairs = [(i, j) for i, j in itertools.combinations(range(len(self.mistakes)), 2)
                 if self.mistakes[i].stage != self.mistakes[j].stage]
        first = ({"derivative", "output_derivative"}, {"derivative", "forward"}, {"output_derivative", "forward"})
        stages = [{self.mistakes[i].stage, self.mistakes[j].stage} for i, j in pairs]
        order = sorted(range(len(pairs)), key=lambda n: next((k for k, st in enumerate(first) if stages[n] == st),
                                                             len(first)))
        self.pairs = [pairs[n] for n in order][:budget]
        self._singles: Optional[list] = None
        self._done: dict = {}

    def singles(self) -> list[Hypothesis]:
        """The gradients under each mistake alone, in ``recomputed_mistakes``'s order."""
        if self._singles is None:
            self._singles = [_hypothesis([m], recompute(self.setup, [m])) for m in self.mistakes]
        return self._singles

    def pairs_reaching(self, key: str, ref: np.ndarray, tol: Tolerance) -> list[Hypothesis]:
        """The pairs whose two mistakes each change ``key``'s gradient (``ref``, within ``tol``)."""
        reach = {i for i, h in enumerate(self.singles()) if not is_close(h.grads[key], ref, tol)}
        out = []
        for i, j in self.pairs:
            if i in reach and j in reach:
                if (i, j) not in self._done:
                    pair = [self.mistakes[i], self.mistakes[j]]
                    self._done[(i, j)] = _hypothesis(pair, recompute(self.setup, pair))
                out.append(self._done[(i, j)])
        return out


def key_hypotheses(net, reference: dict) -> list[Hypothesis]:
    """The mistakes that need no rerun: the parameters themselves, λ·W added, another key's gradient.

    reference: the right gradients, keyed like net.params.
    """
    params = {k: np.array(v, dtype=np.float64) for k, v in net.params.items()}
    out = [Hypothesis("", params, "returned_parameters"), Hypothesis("", params, "weight_decay", added=True)]
    for other in reference:
        grads = {k: np.asarray(reference[other], dtype=np.float64) for k in reference if k != other}
        out.append(Hypothesis("", grads, f"swapped_with_{other}"))
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
