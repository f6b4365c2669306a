"""The pytest plugin: a course test file checks a student's backward in one line.

Runs inner pytest sessions with pytester, on a right and on wrong solutions.
The plugin is the installed ``pytest11`` entry point; where the project is on
the path without being installed, it is loaded with ``-p`` instead.
"""

from __future__ import annotations

import sys

import pytest

from helpers.grading import PLUGIN, ROOT, plugin_installed

pytest_plugins = ["pytester"]

SOLUTION = '''
import numpy as np

def backward(params, I, Y, mistake=None):
    H = params["W_H"] @ I + params["b_H"]              # (D_H, N)
    H_hat = 1 / (1 + np.exp(-H))
    O = params["W_O"] @ H_hat + params["b_O"]          # (D_O, N)
    dO = 2 * (O - Y) if mistake == "forgot_half" else O - Y
    dH = (params["W_O"].T @ dO) * H_hat * (1 - H_hat)
    db_H = dH if mistake == "not_summed" else dH.sum(axis=1, keepdims=True)
    return {"W_H": dH @ I.T, "b_H": db_H, "W_O": dO @ H_hat.T, "b_O": dO.sum(axis=1, keepdims=True)}

def right(params, I, Y):
    return backward(params, I, Y)

def wrong(params, I, Y):
    return backward(params, I, Y, "not_summed")

def no_half(params, I, Y):
    return backward(params, I, Y, "forgot_half")

def tanh_right(params, I, Y, at_preactivation=False):
    H = params["W_H"] @ I + params["b_H"]
    H_hat = np.tanh(H)
    dO = params["W_O"] @ H_hat + params["b_O"] - Y
    dH = (params["W_O"].T @ dO) * (1 - (H if at_preactivation else H_hat) ** 2)
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": dO @ H_hat.T, "b_O": dO.sum(axis=1, keepdims=True)}

def tanh_wrong(params, I, Y):
    return tanh_right(params, I, Y, at_preactivation=True)

def crashes(params, I, Y):
    raise RuntimeError("student bug here")

def skips(params, I, Y):
    import pytest
    pytest.skip("no time to grade")

def exits_pytest(params, I, Y):
    import pytest
    pytest.exit("stop the session")

def sys_exits(params, I, Y):
    raise SystemExit(0)

def interrupts(params, I, Y):
    raise KeyboardInterrupt

def hard_exit(params, I, Y):
    import os
    os._exit(0)

def loops(params, I, Y):
    while True:
        pass

def chatty_wrong(params, I, Y):
    print("debugging: the shapes look fine")
    return wrong(params, I, Y)
'''


def _run(pytester, test_body: str):
    pytester.makepyfile(solution=SOLUTION)
    pytester.makepyfile(test_course="from solution import *\n\n" + test_body)
    pytester.syspathinsert()
    args = [] if plugin_installed() else ["-p", PLUGIN]
    return pytester.runpytest(*args, "-p", "no:cacheprovider")


def test_pyproject_declares_the_entry_point():
    tomllib = pytest.importorskip("tomllib") if sys.version_info < (3, 11) else __import__("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["entry-points"]["pytest11"] == {"backprop_oracle": PLUGIN}


@pytest.mark.needs_torch  # the autograd reference
def test_right_solution_passes(pytester):
    result = _run(pytester, "def test_backward(backprop_oracle):\n    backprop_oracle(right)\n")
    result.assert_outcomes(passed=1)


@pytest.mark.needs_torch  # the autograd reference
def test_wrong_solution_fails_with_the_per_parameter_table(pytester):
    result = _run(pytester, "def test_backward(backprop_oracle):\n    backprop_oracle(wrong)\n")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    for line in ("== seed net 4-16-2, N=32: FAILED", "FAIL not_summed_over_batch",
                 "b_H: not_summed_over_batch: one gradient per sample (16×32)",
                 "dL/db_H (16×1) = Σ_batch dL/dH (16×32)", "1 of 4 nets passed"):
        assert line in out, f"missing {line!r} in\n{out}"
    assert "3-5-3, N=1" not in out  # per-sample = summed at N = 1: that net passes and is not shown


@pytest.mark.needs_torch  # the autograd reference
def test_every_parameter_named_when_all_are_wrong(pytester):
    result = _run(pytester, "def test_backward(backprop_oracle):\n    backprop_oracle(no_half)\n")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    for key in ("W_H", "b_H", "W_O", "b_O"):
        assert f"{key}: scaled_by_2: twice the right value" in out, key
    assert "0 of 4 nets passed" in out


@pytest.mark.needs_torch  # the autograd reference
def test_configuration_and_finite_difference_reference(pytester):
    body = ("def test_tanh(backprop_oracle):\n"
            "    backprop_oracle(tanh_right, activation='tanh', reference='finite_differences')\n"
            "def test_tanh_derivative_at_H(backprop_oracle):\n"
            "    backprop_oracle(tanh_wrong, activation='tanh')\n")
    result = _run(pytester, body)
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "W_H: activation_derivative: tanh′ written with H where its formula needs Ĥ" in out, out
    assert "FAIL activation_derivative" in out and "FAIL unknown" not in out


@pytest.mark.needs_torch  # the autograd reference
def test_results_without_failing_and_a_crashing_solution(pytester):
    body = ("import pytest\n"
            "def test_results(backprop_oracle):\n"
            "    results = backprop_oracle.results(wrong)\n"
            "    assert [r.report.passed for r in results] == [False, True, False, False]\n"
            "    assert results[0].report.params['b_H'].diagnosis == 'not_summed_over_batch'\n"
            "def test_crash(backprop_oracle):\n"
            "    backprop_oracle(crashes)\n")
    result = _run(pytester, body)
    result.assert_outcomes(passed=1, failed=1)
    assert "student bug here" in result.stdout.str()


@pytest.mark.needs_torch  # the fixture's default reference is autograd
def test_student_code_that_skips_or_exits_fails_the_test_and_the_session_goes_on(pytester):
    body = "".join(f"def test_{name}(backprop_oracle):\n    backprop_oracle({name})\n"
                   for name in ("skips", "exits_pytest", "sys_exits", "interrupts", "hard_exit"))
    result = _run(pytester, body + "def test_after(backprop_oracle):\n    backprop_oracle(right)\n")
    result.assert_outcomes(passed=1, failed=5)
    out = result.stdout.str()
    for reason in ("called pytest.skip('no time to grade') (in backward)",
                   "called pytest.exit('stop the session') (in backward)",
                   "called sys.exit(0) (raised SystemExit) (in backward)",
                   "raised KeyboardInterrupt (in backward)",
                   "exited with status 0 before returning gradients (in backward)"):
        assert f"backward could not be graded: {reason}" in out, f"missing {reason!r} in\n{out}"


@pytest.mark.needs_torch  # the fixture's default reference is autograd
def test_timeout_output_and_hidden_cases(pytester):
    body = ("def test_loops(backprop_oracle):\n"
            "    backprop_oracle(loops, timeout=1)\n"
            "def test_prints(backprop_oracle):\n"
            "    backprop_oracle(chatty_wrong)\n"
            "def test_seed(backprop_oracle):\n"
            "    results = backprop_oracle(right, seed=11)\n"
            "    assert all(r.case.label.startswith('drawn ') for r in results)\n"
            "    assert [r.case for r in results] == [r.case for r in backprop_oracle(right, seed=11)]\n")
    result = _run(pytester, body)
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "backward could not be graded: timed out after 1 s" in out
    assert "what backward printed (in its own process):\ndebugging: the shapes look fine" in out
