"""The seed's other parts: a student's forward, loss and SGD step, graded and their mistakes named.

The student functions are in tests/helpers/students.py, written from the seed; the code
each mistake must get is listed there beside it.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.students import (
    FORWARD_MISTAKES,
    LOSS_MISTAKES,
    SGD_MISTAKES,
    student_backward,
    student_forward,
    student_loss,
    student_sgd_step,
)
from manual_backprop.oracle.cases import Case, grade, summary
from torch_ref import check_gradients


def _codes(results, part):
    return [(r.part(part).passed, r.part(part).diagnosis) for r in results]


@pytest.mark.parametrize("mistake", list(FORWARD_MISTAKES))
def test_forward_mistakes_are_named_on_every_net(mistake):
    results = grade(forward=lambda p, I: student_forward(p, I, mistake))
    assert _codes(results, "forward") == [(False, FORWARD_MISTAKES[mistake])] * len(results)
    assert all(r.report is None and [p.name for p in r.parts] == ["forward"] for r in results)
    fix = results[0].part("forward").fix
    assert fix.startswith(f"forward: {FORWARD_MISTAKES[mistake]}: ") and "H (16×32) = W_H (16×4)" in fix


def test_forward_names_the_bias_it_leaves_out_and_a_transposed_square_weight():
    no_b_O = grade(forward=lambda p, I: student_forward(p, I, "no_b_O"))[0].part("forward")
    assert no_b_O.detail == "your forward leaves out b_O"
    square = [Case("4-4-4, N=3", (4, 4, 4), 3, 0)]
    results = grade(forward=lambda p, I: p["W_O"].T @ (1 / (1 + np.exp(-(p["W_H"] @ I + p["b_H"])))) + p["b_O"],
                    cases=square)
    assert _codes(results, "forward") == [(False, "weight_transposed")]
    assert "W_Oᵀ" in results[0].part("forward").detail


@pytest.mark.parametrize("mistake", list(LOSS_MISTAKES))
def test_loss_mistakes_are_named_on_every_net(mistake):
    results = grade(loss_fn=lambda O, Y: student_loss(O, Y, mistake))
    want = LOSS_MISTAKES[mistake]
    for r in results:
        p = r.part("loss")
        visible = not (r.case.N == 1 and want == "scaled_by_1/N")  # a mean over one sample is the sum
        assert (p.passed, p.diagnosis) == ((False, want) if visible else (True, None)), (r.case.label, p)
        if not p.passed:
            assert p.fix.startswith(f"loss: {want}: ") and "cannot be told" not in p.fix, p.fix


def test_loss_fix_lines_say_what_each_factor_means():
    fix = grade(loss_fn=lambda O, Y: student_loss(O, Y, "mse"))[0].part("loss").fix
    assert fix == ("loss: scaled_by_2+scaled_by_1/N+scaled_by_1/D_O: the ½ is missing; a mean over the "
                   "batch where the loss sums; a mean over the outputs where the loss sums; "
                   "L = ½ Σ (O − Y)², summed over outputs and batch")


def test_one_number_on_one_net_cannot_tell_and_says_so():
    one = grade(loss_fn=lambda O, Y: student_loss(O, Y, "mean_all"), cases=[Case("seed", (4, 16, 2), 32, 0)])
    p = one[0].part("loss")
    assert not p.passed and "cannot be told from" in p.detail, p


@pytest.mark.parametrize("mistake", list(SGD_MISTAKES))
def test_sgd_step_mistakes_are_named(mistake):
    results = grade(sgd_step=lambda p, g, lr: student_sgd_step(p, g, lr, mistake))
    want = SGD_MISTAKES[mistake]
    assert _codes(results, "sgd_step") == [(want is None, want)] * len(results)


def test_an_update_in_place_that_returns_nothing_is_told_to_return():
    p = grade(sgd_step=lambda p, g, lr: student_sgd_step(p, g, lr, "in_place_no_return"))[0].part("sgd_step")
    assert p.fix.startswith("sgd_step: not_returned: returned None; it changed params in place, so return them")


def test_all_parts_graded_together_and_named_in_the_summary():
    results = grade(lambda p, I, Y: student_backward(p, I, Y), check=check_gradients,
                    forward=student_forward, loss_fn=lambda O, Y: student_loss(O, Y, "mean_over_batch"),
                    sgd_step=student_sgd_step)
    assert [p.name for p in results[0].parts] == ["forward", "loss", "backward", "sgd_step"]
    text = summary(results)
    assert ("== seed net 4-16-2, N=32: FAILED (forward ok, loss FAIL scaled_by_1/N, backward ok, "
            "sgd_step ok)") in text
    assert "== 3-5-3, N=1: passed" in text and "1 of 4 nets passed" in text  # a mean of one sample is its sum
    right = grade(student_backward, forward=student_forward, loss_fn=student_loss, sgd_step=student_sgd_step)
    assert all(r.passed for r in right)


def test_a_forward_mistake_is_named_at_its_root_in_the_gradients():
    results = grade(lambda p, I, Y: student_backward(p, I, Y, "forward_no_b_H"), check=check_gradients,
                    forward=lambda p, I: student_forward(p, I, "no_b_H"))
    r = results[0]
    assert r.part("forward").diagnosis == "bias_missing"
    assert r.part("backward").diagnosis == "wrong_gradients" and "W_H forward_mistake" in r.part("backward").detail
    for key, p in r.report.params.items():
        assert p.diagnosis == "forward_mistake", key
        assert p.fix.startswith(f"{key}: forward_mistake: your forward leaves out b_H; the gradients inherit it")


def test_untrusted_returns_fail_without_being_trusted():
    class Hostile:
        def __array__(self, *a, **k):
            raise RuntimeError("no")
    results = grade(forward=lambda p, I: Hostile(), loss_fn=lambda O, Y: "0.5", sgd_step=lambda p, g, lr: [1])
    r = results[0]
    assert [(p.name, p.diagnosis) for p in r.parts] == [
        ("forward", "wrong_shape"), ("loss", "wrong_shape"), ("sgd_step", "wrong_type")]


def test_grade_needs_a_function():
    with pytest.raises(TypeError, match="at least one function"):
        grade()
    with pytest.raises(TypeError, match="forward must be a function"):
        grade(forward=3)


def test_a_returned_dict_is_read_with_the_base_dict_methods_only():
    class Liar(dict):
        def get(self, key, default=None):
            raise AssertionError("the grader called the student's get")

        def __getitem__(self, key):
            raise AssertionError("the grader called the student's __getitem__")

    class Claims(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    right = grade(lambda p, I, Y: Liar(student_backward(p, I, Y)), check=check_gradients,
                  sgd_step=lambda p, g, lr: Liar(student_sgd_step(p, g, lr)))
    assert all(r.passed for r in right)
    def claims_W_H(p, I, Y):
        return {(Claims("x_H") if k == "W_H" else k): v for k, v in student_backward(p, I, Y).items()}
    report = grade(claims_W_H, check=check_gradients)[0].report
    assert report.params["W_H"].diagnosis == "missing" and report.unexpected == ("'x_H'",)


def test_float32_parts_are_judged_at_float32_rounding_and_still_named():
    f32 = grade(forward=lambda p, I: student_forward(p, I).astype(np.float32),
                loss_fn=lambda O, Y: np.float32(student_loss(O, Y)),
                sgd_step=lambda p, g, lr: {k: v.astype(np.float32) for k, v in student_sgd_step(p, g, lr).items()})
    assert all(r.passed for r in f32), summary(f32)
    wrong = grade(loss_fn=lambda O, Y: np.float32(student_loss(O, Y, "no_half")))
    assert [r.part("loss").diagnosis for r in wrong] == ["scaled_by_2"] * 4
