"""A wrong quantity, or the right one in the wrong place: named on every graded net, alone and with a factor.

The students are in tests/helpers/planted.py, each written in its own style (loops,
einsum, row-major); what each key must be called is read off their code there.
Graded as a course grades: the default nets and nets drawn from a seed, read together.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.common import snapshot
from helpers.grading import SUBMISSIONS
from helpers.grading import grade as run_grader
from helpers.planted import FACTOR_CAUSE, FACTOR_FOR, LAM, LR, PLANTED, loop_that_assigns
from helpers.students import COMPOUND_MISTAKES, MISTAKES, ORDER, SCALE_AND_FORWARD_MISTAKES, student_backward
from manual_backprop import MLP
from manual_backprop.oracle.cases import DEFAULT_CASES, case_data, grade
from manual_backprop.oracle.comparison import compare_gradients
from manual_backprop.oracle.hidden import draw_cases
from manual_backprop.oracle.tolerances import is_close, tolerance_for
from torch_ref import check_gradients

NEW_CODES = ("swapped_with_", "returned_parameters", "weight_decay", "update_not_gradient", "one_sample",
             "product_of_sums", "pre_activation", "output_activation_derivative", "wrong_axis")
NET_SETS = {"default": DEFAULT_CASES, "seed 7": draw_cases(7), "seed 2026": draw_cases(2026)}


def _order(cause):
    return ORDER.index(cause) if cause in ORDER else len(ORDER)  # swapped_with_<name> comes last


def _want(name, factor, key, N, D_O):
    """The code a key must get on a net (None: it passes there)."""
    causes = list(PLANTED[name][1](key, N, D_O))
    shown = bool(causes)
    if factor:
        causes.append(FACTOR_CAUSE[factor])
        shown = shown or factor == "negated" or N > 1  # a mean over one sample is the sum
    return "+".join(sorted(causes, key=_order)) if shown else None


def _check(name, factor, cases):
    backward = PLANTED[name][0]
    results = grade(lambda p, I, Y: backward(p, I, Y, factor), cases, check=check_gradients)
    for r in results:
        N, D_O = r.case.N, r.case.sizes[-1]
        want = {k: _want(name, factor, k, N, D_O) for k in r.report.params}
        want = {k: v for k, v in want.items() if v is not None}
        got = {k: p.diagnosis for k, p in r.report.params.items() if not p.passed}
        assert got == want, f"{name} ({factor}) on {r.case.label}: {got}, expected {want}\n{r.report}"
        for key, p in r.report.params.items():
            if not p.passed:
                assert p.fix.startswith(f"{key}: {p.diagnosis}: "), p.fix
    assert not all(r.passed for r in results)
    return results


@pytest.mark.parametrize("nets", list(NET_SETS))
@pytest.mark.parametrize("name", list(PLANTED))
def test_each_code_is_named_on_every_net(name, nets):
    _check(name, None, NET_SETS[nets])


@pytest.mark.parametrize("nets", list(NET_SETS))
@pytest.mark.parametrize("name", list(PLANTED))
def test_each_code_combines_with_a_factor(name, nets):
    _check(name, FACTOR_FOR[name], NET_SETS[nets])


def test_the_lines_say_which_sample_which_key_and_the_constants():
    swapped = _check("swapped_with", None, DEFAULT_CASES)[0].report.params["W_H"]
    assert "this is dL/dW_O, the gradient of W_O, under the key 'W_H'" in swapped.fix
    assert "put each gradient under its own key: dL/dW_H (16×4) = dL/dH (16×32) · Iᵀ (32×4)" in swapped.fix
    decay = _check("weight_decay", "mean", DEFAULT_CASES)[0].report.params["W_O"]
    assert decay.diagnosis == "scaled_by_1/N+weight_decay" and f"λ = {LAM:g}" in decay.fix, decay.fix
    step = _check("update_not_gradient", None, DEFAULT_CASES)[2].report.params["b_H"]
    assert f"lr = {LR:g}" in step.fix and "the SGD step" in step.fix, step.fix
    last = _check("one_sample", None, DEFAULT_CASES)[0].report.params["W_H"]
    assert "only the last sample's gradient (n = N − 1)" in last.fix, last.fix
    axis = _check("wrong_axis", None, DEFAULT_CASES)[0].report.params["b_H"]
    assert axis.got_shape == (32,) and "dL/dH.sum(axis=1, keepdims=True)" in axis.fix, axis.fix


def test_the_first_sample_is_told_from_the_last():
    def first_only(params, I, Y):
        return loop_that_assigns(params, I[:, :1], Y[:, :1])

    results = grade(first_only, check=check_gradients)
    p = results[0].report.params["b_O"]
    assert p.diagnosis == "one_sample" and "only the first sample's gradient (n = 0)" in p.fix, p.fix


def _with_derivatives(params, I, Y):
    """σ′(Ĥ) for Ĥ(1 − Ĥ) in the hidden layer and σ′ written at the linear output too."""
    H_hat = 1 / (1 + np.exp(-(params["W_H"] @ I + params["b_H"])))
    O = params["W_O"] @ H_hat + params["b_O"]
    dO = (O - Y) * O * (1 - O)
    s = 1 / (1 + np.exp(-H_hat))
    dH = params["W_O"].T @ dO * s * (1 - s)
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True), "W_O": dO @ H_hat.T,
            "b_O": dO.sum(axis=1, keepdims=True)}


def test_two_recomputed_mistakes_are_named_together():
    both = grade(_with_derivatives, check=check_gradients)
    for r in both:
        got = {k: p.diagnosis for k, p in r.report.params.items()}
        assert got == {"W_H": "activation_derivative+output_activation_derivative",
                       "b_H": "activation_derivative+output_activation_derivative",
                       "W_O": "output_activation_derivative", "b_O": "output_activation_derivative"}, r.report


def test_a_derivative_and_a_forward_mistake_together():
    def student(params, I, Y):
        H_hat = 1 / (1 + np.exp(-(params["W_H"] @ I)))  # b_H left out of the forward
        dO = params["W_O"] @ H_hat + params["b_O"] - Y
        dH = params["W_O"].T @ dO  # and σ′ left out of the backward
        return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True), "W_O": dO @ H_hat.T,
                "b_O": dO.sum(axis=1, keepdims=True)}

    for r in grade(student, check=check_gradients):
        got = {k: p.diagnosis for k, p in r.report.params.items()}
        assert got == {"W_H": "activation_derivative+forward_mistake", "b_H": "activation_derivative+forward_mistake",
                       "W_O": "forward_mistake", "b_O": "forward_mistake"}, r.report
        assert "σ′ left out" in r.report.params["W_H"].fix or "sigmoid′ left out" in r.report.params["W_H"].fix


CATALOGUE = sorted({m for m in MISTAKES if m != "W_out_uses_preact"} | set(COMPOUND_MISTAKES)
                   | set(SCALE_AND_FORWARD_MISTAKES) | {None}, key=str)


@pytest.mark.parametrize("nets", list(NET_SETS))
def test_no_new_code_on_the_catalogue_nor_on_right_solutions(nets):
    """The catalogue's mistakes (W_H dL/dW_O · Hᵀ aside, which is pre_activation) keep their names."""
    for mistake in CATALOGUE:
        activation, loss = MISTAKES.get(mistake, ("sigmoid", "half_sse"))
        if mistake == "dX_W_not_transposed":
            continue  # needs a square W_O, which these nets do not have

        def student(params, I, Y, mistake=mistake, activation=activation, loss=loss):
            return student_backward(params, I, Y, mistake, activation, loss)

        results = grade(student, NET_SETS[nets], activation=activation, loss=loss, check=check_gradients)
        codes = {p.diagnosis for r in results for p in r.report.params.values() if not p.passed}
        assert not {c for c in codes for new in NEW_CODES if new in c}, (mistake, codes)
        if mistake is None:
            assert all(r.passed for r in results)


def test_a_verdict_never_changes_only_its_name():
    """The same candidate passes or fails with and without the new hypotheses."""
    for case in DEFAULT_CASES:
        net = MLP(list(case.sizes), seed=case.seed)
        I, Y = case_data(case)
        ref = student_backward(snapshot(net), I, Y)
        for name, (backward, _) in PLANTED.items():
            grads = backward(snapshot(net), I, Y)
            tol = tolerance_for(np.float64)
            report = compare_gradients(net, I, Y, grads, ref, "the student's right backward", tol)
            for key, p in report.params.items():
                assert p.passed == is_close(np.asarray(grads[key]), ref[key], tol), (name, key, case.label)
                assert p.passed == (p.diagnosis is None)


def test_every_new_code_has_a_meaning_and_a_fix_of_its_own():
    from manual_backprop.oracle.codes import CODES
    from manual_backprop.oracle.diagnosis import Diagnosis
    from manual_backprop.oracle.hints import fix_line

    for code in NEW_CODES:
        name = code + "<name>" if code.endswith("_") else code
        assert CODES.get(name), name
        named = code + "W_O" if code.endswith("_") else code
        for shown in (named, "negated+" + named):
            fix = fix_line("W_H", Diagnosis(shown), (16, 4), [4, 16, 2], 32, "sigmoid", "identity", "half_sse")
            assert fix.startswith(f"W_H: {shown}: ") and "matches none" not in fix, fix
            assert "dL/dW_H (16×4) = dL/dH (16×32) · Iᵀ (32×4)" in fix, fix
            assert f"the sign flipped, {named}" not in fix, fix  # a clause in words, not the code again


@pytest.mark.parametrize("seed", [None, 7])
def test_the_command_names_it_on_the_default_and_the_drawn_nets(seed):
    """``grade FILE [--seed N]``: the student's code in a child process, the names in the JSON."""
    args = [SUBMISSIONS / "honest" / "loop_assigns.py", "--format", "json"] + (["--seed", seed] if seed else [])
    result = run_grader(*args)
    assert result.returncode == 1, result.stderr
    cases = json.loads(result.stdout)["submissions"][0]["cases"]
    assert len(cases) == 4
    for case in cases:
        codes = {k: p["diagnosis"] for k, p in case["params"].items()}
        want = "one_sample" if case["N"] > 1 else None
        assert codes == dict.fromkeys(codes, want), (case["label"], codes)
