"""Several mistakes at once, and mistakes of scale one net cannot tell apart: named on every graded net.

The student (tests/helpers/students.py) makes the mistakes together; what each parameter
must be called is derived there from where each mistake sits in the equations
(``expected_on_net``). The graded nets are read together, as ``grade`` does.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.common import snapshot
from helpers.students import (
    CAUSES,
    COMPOUND_MISTAKES,
    MISTAKES,
    SCALE_AND_FORWARD_MISTAKES,
    expected_on_net,
    student_backward,
    switches,
)
from manual_backprop import MLP
from manual_backprop.oracle.cases import DEFAULT_CASES, Case, case_data, grade, summary
from manual_backprop.oracle.tolerances import tolerance_for
from torch_ref import check_gradients


def _student(mistake):
    return lambda params, I, Y: student_backward(params, I, Y, mistake)


def _assert_named(results, mistake):
    for r in results:
        want = expected_on_net(mistake, ["H", "O"], r.case.N, r.case.sizes[-1])
        got = {k: p.diagnosis for k, p in r.report.params.items() if not p.passed}
        assert got == want, f"{mistake} on {r.case.label}: {got}, expected {want}\n{r.report}"
        assert r.report.passed == (not want)
        for key, p in r.report.params.items():
            if not p.passed:
                assert p.fix.startswith(f"{key}: {p.diagnosis}: "), p.fix
                assert "cannot be told" not in p.detail, p.fix  # the default nets tell every reading apart
    assert not all(r.passed for r in results), f"{mistake} passed every net"


def test_the_catalogue_has_pairs_and_triples():
    sizes = [len(m.split("+")) for m in COMPOUND_MISTAKES]
    assert len(COMPOUND_MISTAKES) >= 12 and sizes.count(3) >= 3 and min(sizes) == 2


@pytest.mark.parametrize("mistake", COMPOUND_MISTAKES + SCALE_AND_FORWARD_MISTAKES)
def test_every_default_net_names_every_cause(mistake):
    _assert_named(grade(_student(mistake), check=check_gradients), mistake)


SINGLE = {m: config for m, config in MISTAKES.items() if switches(m) <= set(CAUSES)}


@pytest.mark.parametrize("mistake", list(SINGLE))
def test_every_single_mistake_of_the_catalogue_on_the_default_nets(mistake):
    activation, loss = SINGLE[mistake]

    def student(params, I, Y):
        return student_backward(params, I, Y, mistake, activation, loss)

    _assert_named(grade(student, activation=activation, loss=loss, check=check_gradients), mistake)


@pytest.mark.parametrize("mistake", ["W_in_transposed+tanh_deriv_of_preact", "sigmoid_formula_for_tanh+mean_over_batch",
                                     "b_in_not_summed+tanh_deriv_at_output+half_twice"])
def test_tanh_hidden_layers_too(mistake):
    def student(params, I, Y):
        return student_backward(params, I, Y, mistake, activation="tanh")

    _assert_named(grade(student, activation="tanh", check=check_gradients), mistake)


@pytest.mark.parametrize("mistake", ["W_in_transposed+negated_dO+mean_over_batch",
                                     "b_in_not_summed+deriv_at_output", "mse_for_half_sse"])
def test_finite_difference_reference_names_them_too(mistake):
    _assert_named(grade(_student(mistake)), mistake)


def test_compound_fix_line_covers_each_cause_and_the_equations_once():
    results = grade(_student("W_in_transposed+negated_dO+mean_over_batch"), check=check_gradients)
    fix = results[0].report.params["W_H"].fix
    assert fix.startswith("W_H: transposed+negated+scaled_by_1/N: (dL/dW_H)ᵀ, the sign flipped, 1/N = 1/32 ")
    assert fix.endswith("right: dL/dO (2×32) = O − Y (2×32), then dL/dW_H (16×4) = dL/dH (16×32) · Iᵀ (32×4)")
    assert fix.count("dL/dO (2×32) = O − Y") == 1


def _alone(mistake, case, check=check_gradients, transform=None):
    """The report on one net checked alone (no other nets to read it with)."""
    net = MLP(list(case.sizes), seed=case.seed)
    I, Y = case_data(case)
    grads = student_backward(snapshot(net), I, Y, mistake)
    return check(net, I, Y, transform(grads) if transform else grads)


def test_a_mean_over_outputs_is_not_blamed_on_the_half_once_the_nets_are_read_together():
    """On the seed net alone (D_O = 2) 1/D_O is ½ and the line says it cannot tell; with the others it is 1/D_O."""
    alone = _alone("mean_over_outputs", DEFAULT_CASES[0])
    for key, p in alone.params.items():
        assert p.diagnosis == "scaled_by_1/2", key
        assert "(D_O = 2) this cannot be told from scaled_by_1/D_O" in p.fix, p.fix
    other = _alone("mean_over_outputs", DEFAULT_CASES[3])  # 2-7-3: D_O = 3
    assert {p.diagnosis for p in other.params.values()} == {"scaled_by_1/D_O"}
    together = grade(_student("mean_over_outputs"), check=check_gradients)
    seed = together[0].report.params["b_O"]
    assert seed.diagnosis == "scaled_by_1/D_O" and "the ½ belongs to L only" not in seed.fix, seed.fix
    assert "1/D_O = 1/2 of the right value: a mean over the outputs" in seed.fix


def test_mse_gradient_for_half_sse_is_every_factor_on_the_seed_net():
    """2(O − Y)/(N·D_O) is only 1/32 on the seed net alone; read with the others it is all three causes."""
    alone = _alone("mse_for_half_sse", DEFAULT_CASES[0])
    assert {p.diagnosis for p in alone.params.values()} == {"scaled_by_1/N"}
    together = grade(_student("mse_for_half_sse"), check=check_gradients)
    assert together[0].report.params["W_O"].diagnosis == "scaled_by_2+scaled_by_1/N+scaled_by_1/D_O"
    assert "W_O scaled_by_2+scaled_by_1/N+scaled_by_1/D_O" in together[0].part("backward").detail
    at_N1 = together[1]
    assert at_N1.case.N == 1 and not at_N1.passed  # factor 2/3 there: no default net passes it
    assert "scaled_by_1/N cannot be seen at N = 1" in at_N1.report.params["W_H"].detail


def test_nets_that_cannot_tell_say_so():
    """Graded on the seed net alone, a mean over the batch at N = 2 and D_O = 2 has three readings."""
    cases = [Case("4-16-2, N=2", (4, 16, 2), 2, 0)]
    results = grade(_student("mean_over_batch"), cases, check=check_gradients)
    p = results[0].report.params["W_H"]
    assert p.diagnosis == "scaled_by_1/2"
    assert "cannot be told from scaled_by_1/N or scaled_by_1/D_O" in p.fix, p.fix


def test_a_float32_bias_does_not_loosen_a_float64_weight():
    """σ′ by a central difference with h = 1e-2 is off by ~7e-6 of W_H: wrong, whatever dtype b_O comes in."""
    report = _alone("crude_numerical_deriv+b_out_float32", DEFAULT_CASES[0])
    got = {k: p.diagnosis for k, p in report.params.items() if not p.passed}
    assert got == {"W_H": "unknown", "b_H": "unknown"}, str(report)
    assert report.params["W_H"].max_rel_err < 1e-4  # within float32's tolerance: it used to pass
    assert report.params["W_H"].tolerance == tolerance_for(np.float64)
    assert report.params["b_O"].passed and report.params["b_O"].tolerance == tolerance_for(np.float32)
    assert "b_O (float32) at rtol 0.0001" in str(report).splitlines()[0]
    results = grade(_student("crude_numerical_deriv+b_out_float32"), check=check_gradients)
    assert not any(r.passed for r in results)


def test_float16_gradients_right_to_their_precision_get_a_note():
    right16 = _alone(None, DEFAULT_CASES[0], transform=lambda g: {k: v.astype(np.float16) for k, v in g.items()})
    assert not right16.passed
    for key, p in right16.params.items():
        assert p.diagnosis == "low_precision", key
        assert "right only to float16's precision" in p.fix and "float64" in p.fix, p.fix
    doubled = _alone("forgot_half", DEFAULT_CASES[0],
                     transform=lambda g: {k: v.astype(np.float16) for k, v in g.items()})
    assert {p.diagnosis for p in doubled.params.values()} == {"scaled_by_2"}


def test_a_nan_hint_speaks_of_exp_only_where_an_exp_is():
    def nan_everywhere(grads):
        return {k: np.full_like(v, np.nan) for k, v in grads.items()}
    report = _alone(None, DEFAULT_CASES[3], transform=nan_everywhere)
    assert {p.diagnosis for p in report.params.values()} == {"not_finite"}
    assert "exp" not in report.params["b_O"].fix and "exp" not in report.params["W_O"].fix
    assert "dL/dO (3×8) = O − Y" in report.params["b_O"].fix
    assert "stable sigmoid" in report.params["W_H"].fix


@pytest.mark.parametrize("container", [tuple, list])
def test_a_tuple_return_names_the_expected_dict(container):
    results = grade(lambda p, I, Y: container(student_backward(p, I, Y).values()), check=check_gradients)
    assert not any(r.passed for r in results)
    text = summary(results)
    assert "== seed net 4-16-2, N=32: FAILED (backward FAIL)" in text
    assert results[0].part("backward").diagnosis == "wrong_type"
    assert (f"must return a dict of gradients keyed like params ['W_H', 'b_H', 'W_O', 'b_O']; "
            f"got a {container.__name__} of 4 items") in text
    assert "{'W_H': dL_dW_H, 'b_H': dL_db_H, 'W_O': dL_dW_O, 'b_O': dL_db_O}" in text


def test_right_solutions_pass_every_net_and_unrelated_ones_are_unknown():
    assert all(r.passed for r in grade(_student(None), check=check_gradients))
    rng = np.random.default_rng(0)
    noise = grade(lambda p, I, Y: {k: rng.standard_normal(v.shape) for k, v in p.items()}, check=check_gradients)
    assert {p.diagnosis for r in noise for p in r.report.params.values()} == {"unknown"}


def test_one_net_names_every_rival_that_has_a_cause_the_chosen_reading_lacks():
    """At N = 4, 2·(1/N) is ½: the fewer causes are named, and the line says the pair fits too."""
    report = _alone("forgot_half+mean_over_batch", Case("3-5-3, N=4", (3, 5, 3), 4, 1))
    p = report.params["W_H"]
    assert p.diagnosis == "scaled_by_1/2"
    assert "on this net this cannot be told from scaled_by_2+scaled_by_1/N" in p.fix, p.fix
    both = grade(_student("forgot_half+mean_over_batch"), check=check_gradients)
    assert both[0].report.params["W_H"].diagnosis == "scaled_by_2+scaled_by_1/N"
