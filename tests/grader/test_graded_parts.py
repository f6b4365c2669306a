"""One registry of graded parts (``oracle.graded``) drives the child, the proxies and the grade.

The child asks a submission for every registered part, a proxy holds each
part's result to the registered kind and says so in the registered words, and
a grade reports the parts in the registry's order. The registry itself loads
without NumPy, since the child in the student's process imports it.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

from manual_backprop.oracle import child, exchange
from manual_backprop.oracle.cases import DEFAULT_CASES, grade
from manual_backprop.oracle.graded import GRADED_PARTS, GradedPart
from manual_backprop.oracle.isolation import Child, Limits
from manual_backprop.oracle.proxies import InProcess, StudentCodeError

EXTRA = GradedPart("predict", "predict(params, I) -> O", "array", "an array of predictions", "its predictions", "predict")
SAMPLES = {"array": np.zeros((2, 3)), "float": 1.5, "dict": {"W_H": np.ones((2, 2))}}


def _load_report(path, function: str) -> dict:
    """What ``child.serve_file`` says a submission defines, run in this process (the file is ours)."""
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    try:
        os.write(req_w, exchange.encode({"op": "quit"}))  # serve no call: only the load report
        child.serve_file(str(path), function, req_r, rep_w)
        meta, _ = child.receive(rep_r)
    finally:
        for fd in (req_r, req_w, rep_r, rep_w):
            os.close(fd)
    return meta


def test_the_child_asks_a_submission_for_every_registered_part(tmp_path, monkeypatch):
    monkeypatch.setitem(GRADED_PARTS, EXTRA.name, EXTRA)  # a part the child has never heard of by name
    monkeypatch.setattr(sys, "path", list(sys.path))  # serve_file puts the submission's folder first
    monkeypatch.setitem(sys.modules, "submission", None)
    path = tmp_path / "every_part.py"
    path.write_text("".join(f"def {name}(*args):\n    return None\n" for name in GRADED_PARTS)
                    + "def helper():\n    return None\ndef back_prop(*args):\n    return None\n")
    meta = _load_report(path, "back_prop")
    assert meta["ok"] is True, meta
    assert meta["defines"] == sorted([*GRADED_PARTS, "back_prop"]), "every part, the --function, nothing else"
    assert "helper" in meta["functions"] and "helper" not in meta["defines"]


@pytest.mark.parametrize("part", GRADED_PARTS.values(), ids=list(GRADED_PARTS))
def test_a_proxy_holds_each_part_to_its_registered_kind(part):
    returned = SAMPLES[part.returns]
    with InProcess({part.name: lambda *args: returned, "chatter": lambda *args: "text"}) as runner:
        got = runner.proxy(part.name)()
        with pytest.raises(StudentCodeError) as info:
            runner.proxy("chatter", part.name)()
    if part.returns == "dict":
        assert list(got) == ["W_H"] and np.array_equal(got["W_H"], returned["W_H"])
    else:
        assert np.array_equal(got, returned) and np.shape(got) == np.shape(returned)
    assert str(info.value) == f"chatter returned str; it must return {part.must_return}"


def test_a_proxy_grades_a_newly_registered_part_by_its_entry(monkeypatch):
    monkeypatch.setitem(GRADED_PARTS, EXTRA.name, EXTRA)
    with InProcess({"predict": lambda *args: {"not": "an array"}}) as runner:
        with pytest.raises(StudentCodeError, match="^predict returned a dict; it must return an array of predictions$"):
            runner.proxy("predict")()


@pytest.mark.parametrize("part", GRADED_PARTS.values(), ids=list(GRADED_PARTS))
def test_a_child_that_exits_in_a_part_names_that_parts_result(part):
    with Child.fork({part.name: lambda *args: os._exit(0)}, Limits(timeout=30)) as runner:
        with pytest.raises(StudentCodeError) as info:
            runner.proxy(part.name)(np.zeros(1))
    assert str(info.value) == f"exited with status 0 before returning {part.result_words} (in {part.name})"


def test_a_grade_reports_its_parts_in_the_registrys_order():
    def nothing(*args):
        return None

    results = grade(nothing, DEFAULT_CASES[:1], forward=nothing, loss_fn=nothing, sgd_step=nothing)
    assert [p.name for p in results[0].parts] == list(GRADED_PARTS)


def test_each_signature_is_the_call_of_its_name():
    for name, part in GRADED_PARTS.items():
        assert part.name == name and part.signature.startswith(f"{name}(") and " -> " in part.signature
        assert part.returns in SAMPLES, f"{name}: {part.returns!r} is no kind the exchange sends"


def test_the_registry_loads_without_numpy_or_the_package():
    """The child imports it in the student's process: it must need nothing but the standard library."""
    path = os.path.join(os.path.dirname(child.__file__), "graded.py")
    code = ("import importlib.util, sys\n"
            "sys.modules['numpy'] = None  # any import of numpy now fails\n"
            f"spec = importlib.util.spec_from_file_location('graded', {path!r})\n"
            "module = sys.modules['graded'] = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(module)\n"
            "print(' '.join(module.GRADED_PARTS))\n"
            "print(sorted(m for m in sys.modules if m.startswith('manual_backprop')))\n")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    names, loaded = out.stdout.splitlines()
    assert names.split() == list(GRADED_PARTS) and loaded == "[]"


def test_each_part_s_keyword_is_an_argument_of_grade_that_takes_a_function():
    parameters = inspect.signature(grade).parameters
    for part in GRADED_PARTS.values():
        assert part.keyword in parameters, f"{part.name}: grade has no argument {part.keyword!r}"
        assert "Callable" in str(parameters[part.keyword].annotation), f"{part.name}: {part.keyword} takes no function"
