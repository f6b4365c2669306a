"""The command and the fixture grade every part of the seed a submission defines, in its child.

A submission that writes ``forward``, ``loss``, ``backward`` and ``sgd_step``
(the seed's four pieces) has each one graded and named in the report; a
mistake in any one of them fails the submission, with that part's code.
"""

from __future__ import annotations

import json

import pytest

from helpers.grading import PLUGIN, grade, plugin_installed
from manual_backprop.oracle.graded import GRADED_PARTS

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.needs_torch  # graded against autograd, the default reference

SEED = '''
import numpy as np

def forward(params, I):
    H_hat = 1 / (1 + np.exp(-(params["W_H"] @ I + params["b_H"])))
    return params["W_O"] @ H_hat + params["b_O"]

def loss(O, Y):
    return 0.5 * float(np.sum((O - Y) ** 2)) {LOSS_MISTAKE}

def backward(params, I, Y):
    H_hat = 1 / (1 + np.exp(-(params["W_H"] @ I + params["b_H"])))
    dO = params["W_O"] @ H_hat + params["b_O"] - Y
    dH = (params["W_O"].T @ dO) * H_hat * (1 - H_hat)
    return {{"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
             "W_O": dO @ H_hat.T, "b_O": dO.sum(axis=1, keepdims=True)}}

def sgd_step(params, grads, lr):
    return {{k: p {SIGN} lr * grads[k] for k, p in params.items()}}
'''


def write(tmp_path, name, loss_mistake="", sign="-"):
    path = tmp_path / name
    path.write_text(SEED.format(LOSS_MISTAKE=loss_mistake, SIGN=sign))
    return path


def test_every_part_of_a_right_seed_is_graded_and_passes(tmp_path):
    result = grade(write(tmp_path, "right.py"), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    cases = json.loads(result.stdout)["submissions"][0]["cases"]
    assert cases and all(list(c["parts"]) == list(GRADED_PARTS) for c in cases), "every registered part, in order"
    assert all(p["passed"] for c in cases for p in c["parts"].values())


@pytest.mark.parametrize("loss_mistake,sign,part,code", [
    pytest.param("/ O.shape[1]", "-", "loss", "scaled_by_1/N", id="loss-mean-over-batch"),
    pytest.param("", "+", "sgd_step", "ascent", id="sgd-ascends"),
])
def test_a_wrong_part_fails_the_submission_with_its_code(tmp_path, loss_mistake, sign, part, code):
    result = grade(write(tmp_path, "wrong.py", loss_mistake, sign), "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    cases = json.loads(result.stdout)["submissions"][0]["cases"]
    wrong = {c["label"]: c["parts"][part]["diagnosis"] for c in cases if not c["parts"][part]["passed"]}
    assert wrong and all(code in d for d in wrong.values()), wrong
    others = {name for c in cases for name, p in c["parts"].items() if not p["passed"]}
    assert others == {part}, f"only {part} is wrong, yet {others} failed"


def test_the_fixture_grades_the_parts_it_is_given(pytester, tmp_path):
    pytester.makepyfile(solution=SEED.format(LOSS_MISTAKE="", SIGN="+"))
    pytester.makepyfile(test_course='''
from solution import backward, forward, loss, sgd_step

def test_backward_forward_loss(backprop_oracle):
    backprop_oracle(backward, forward=forward, loss_fn=loss)

def test_sgd_step(backprop_oracle):
    backprop_oracle(sgd_step=sgd_step)
''')
    pytester.syspathinsert()
    args = [] if plugin_installed() else ["-p", PLUGIN]
    result = pytester.runpytest(*args, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert "sgd_step FAIL ascent" in result.stdout.str()
