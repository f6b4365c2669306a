"""The dry run: an assignment's autograder.zip, run as Gradescope would, on the submissions a course sees.

Each run is ``manual-backprop assignment check``: the zip unpacked into a
Gradescope-like root, ``setup.sh`` installing the zip's own wheel (and NumPy)
into a virtual environment without torch, ``run_autograder`` grading the file
with nothing of this repository on its path. One venv serves every run
(``helpers.course``); each results.json is checked against Gradescope's format.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import manual_backprop
from helpers.course import HIDDEN_SEED, STUDENT, dry_run, locked, made, part_scores, shared_folder, student_user_missing, validate
from manual_backprop.oracle.cases import DEFAULT_CASES, case_data
from manual_backprop.oracle.hidden import draw_cases

FULL = {"forward": (2.0, 2.0), "loss": (1.0, 1.0), "backward": (6.0, 6.0), "sgd_step": (1.0, 1.0)}

IMPORTS_THE_REFERENCE = '''
import numpy as np
from manual_backprop import MLP


def _net(params):
    D_H, D_I = params["W_H"].shape
    net = MLP([D_I, D_H, params["W_O"].shape[0]])
    for name, value in params.items():
        net.params[name][...] = value
    return net


def forward(params, I):
    return _net(params).forward(I)


def loss(O, Y):
    return 0.5 * float(np.sum((O - Y) ** 2))


def backward(params, I, Y):
    net = _net(params)
    net.forward(I)
    return net.backward(Y)


def sgd_step(params, grads, lr):
    return {name: w - lr * grads[name] for name, w in params.items()}
'''


@pytest.fixture(scope="session")
def kit(tmp_path_factory):
    """(shared folder, the seed's assignment): made once per session, whichever worker comes first."""
    folder = shared_folder(tmp_path_factory)
    with locked(folder):
        return folder, made(folder, "seed")


def check(kit, submission):
    folder, course = kit
    status, out, doc = dry_run(folder, course / "autograder.zip", submission)
    validate(doc)
    return status, out, doc


def test_the_solution_scores_full_marks_in_a_venv_with_only_the_zips_wheel(kit):
    folder, course = kit
    status, out, doc = check(kit, course / "solution" / "backprop.py")
    assert status == 0 and doc["score"] == 10.0, out
    assert part_scores(doc) == FULL
    assert "score: 10 / 10" in out and "setup.sh:" in out and "run_autograder:" in out
    extra = doc["extra_data"]["manual_backprop"]
    assert extra["version"] == manual_backprop.__version__
    # the entry as grade --format json writes it: the 4 public cases, then 4 drawn from the hidden seed
    labels = [c["label"] for c in extra["submission"]["cases"]]
    assert len(labels) == 8 and all(label.startswith("drawn ") for label in labels[4:]), labels
    assert {v for t in doc["tests"] for v in [t["visibility"]]} == {"visible", "after_published"}
    python = folder / "venv" / "bin" / "python"
    where = subprocess.run([str(python), "-I", "-c", "import manual_backprop; print(manual_backprop.__file__)"],
                           capture_output=True, text=True, check=True).stdout
    assert str(folder / "venv") in where, where  # the wheel's copy, not this repository's
    no_torch = subprocess.run([str(python), "-I", "-c", "import torch"], capture_output=True, text=True)
    assert no_torch.returncode != 0, "torch is in the autograder's venv: the image is meant to go without"
    version = subprocess.run([str(folder / "venv" / "bin" / "manual-backprop"), "--version"],
                             capture_output=True, text=True, check=True).stdout
    assert version.strip() == f"manual-backprop {manual_backprop.__version__}"


def test_the_untouched_starter_scores_0_with_each_part_not_implemented_yet(kit):
    status, out, doc = check(kit, kit[1] / "student" / "backprop.py")
    assert status == 1 and doc["score"] == 0.0
    assert all(score == 0.0 for score, _ in part_scores(doc).values())
    for part in FULL:
        outputs = [t["output"] for t in doc["tests"] if t["name"].startswith(part + ":")]
        assert len(outputs) == 2 and all("not implemented yet" in o for o in outputs), outputs
    cases = doc["extra_data"]["manual_backprop"]["submission"]["cases"]
    assert {p["diagnosis"] for c in cases for p in c["parts"].values()} == {"not_implemented"}


def test_a_planted_mistake_gets_partial_credit_and_its_diagnosis(kit, tmp_path):
    solution = (kit[1] / "solution" / "backprop.py").read_text()
    assert "dO = O - Y" in solution
    planted = tmp_path / "planted" / "backprop.py"
    planted.parent.mkdir()
    planted.write_text(solution.replace("dO = O - Y", "dO = Y - O"))  # the sign of dL/dO flipped
    status, out, doc = check(kit, planted)
    assert status == 1 and doc["score"] == 4.0, out
    assert part_scores(doc) == {**FULL, "backward": (0.0, 6.0)}
    backward = [t for t in doc["tests"] if t["name"].startswith("backward:")]
    assert all(t["status"] == "failed" and "negated" in t["output"] for t in backward), backward
    assert "negated" in out  # the dry run shows the failing tests' diagnosis


def test_a_submission_importing_the_reference_scores_0_with_the_reason(kit, tmp_path):
    cheat = tmp_path / "cheat" / "backprop.py"
    cheat.parent.mkdir()
    cheat.write_text(IMPORTS_THE_REFERENCE)
    status, out, doc = check(kit, cheat)
    assert status == 1 and doc["score"] == 0.0, out
    assert "manual_backprop" in doc["output"], doc["output"]


def test_the_notebook_form_of_the_solution_scores_full_marks(kit):
    status, out, doc = check(kit, kit[1] / "solution" / "backprop.ipynb")
    assert status == 0 and doc["score"] == 10.0, out
    assert doc["extra_data"]["manual_backprop"]["submission"]["path"].endswith("backprop.ipynb")


def test_an_empty_submission_folder_scores_0_naming_the_expected_file(kit, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    status, out, doc = check(kit, empty)
    assert status == 1 and doc["score"] == 0.0
    assert "backprop.py" in doc["output"] and all("backprop.py" in t["output"] for t in doc["tests"])
    assert doc["extra_data"]["manual_backprop"]["submission"]["error"]


def test_a_tanh_and_mse_variant_s_solution_scores_full_marks(kit):
    folder, _ = kit
    with locked(folder):
        course = made(folder, "tanh-mse", "--activation", "tanh", "--loss", "mse")
    status, out, doc = dry_run(folder, course / "autograder.zip", course / "solution" / "backprop.py")
    validate(doc)
    assert status == 0 and doc["score"] == 10.0, out
    config = json.loads((course / "autograder" / "config.json").read_text())
    assert (config["activation"], config["loss"], config["reference"]) == ("tanh", "mse", "finite_differences")


# -- the hidden seed and the hidden cases stay the grader's ----------------------------------------

OPENS_THE_CONFIG = """
import os

def _config_denied():
    try:
        with open({config!r}) as f:
            print("read the config:", f.read())
    except PermissionError as err:
        print("denied:", err)
        return os.getuid() != 0
    except OSError as err:
        print("not denied but:", err)
    return False

_DENIED = _config_denied()
_solution_forward = forward

def forward(params, I):
    O = _solution_forward(params, I)
    return O if _DENIED else O + 1.0  # right only where the config could not be read
"""


@pytest.mark.skipif(bool(student_user_missing()), reason=student_user_missing() or "-")
def test_student_code_run_as_the_config_s_user_cannot_read_the_config(kit, tmp_path):
    """The root is in a folder every user may pass through, as /autograder is: only the modes that
    setup.sh sets keep the config (and its seed) from the student's code."""
    folder, course = kit
    assert json.loads((course / "autograder" / "config.json").read_text())["user"] == STUDENT
    parent = Path(tempfile.mkdtemp(prefix="autograder-modes-"))
    try:
        parent.chmod(0o755)
        root = parent / "autograder"
        submission = tmp_path / "opens" / "backprop.py"
        submission.parent.mkdir()
        submission.write_text((course / "solution" / "backprop.py").read_text()
                              + OPENS_THE_CONFIG.format(config=str(root / "source" / "config.json")))
        status, out, doc = dry_run(folder, course / "autograder.zip", submission, root=root)
        assert status == 0 and doc["score"] == 10.0, out
        assert (root / "source" / "config.json").stat().st_mode & 0o777 == 0o600
        assert (root / "source").stat().st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(parent, ignore_errors=True)


LEAKS_ON_HIDDEN_CASES = """
_PUBLIC = {public!r}
_seen = []

def _shown(I):
    return "HIDDEN-I " + " ".join(f"{{x:.9f}}" for x in I.ravel()[:3])

def _hidden(params, I):
    return (I.shape[0], params["W_H"].shape[0], params["W_O"].shape[0], I.shape[1]) not in _PUBLIC

_solution_forward, _solution_backward, _solution_sgd_step = forward, backward, sgd_step

def forward(params, I):
    if _hidden(params, I):
        _seen.append(_shown(I))
        print(_shown(I))
    return _solution_forward(params, I)

def backward(params, I, Y):
    if _hidden(params, I):
        raise ValueError(_shown(I))
    return _solution_backward(params, I, Y)

def sgd_step(params, grads, lr):
    if {dies} and _seen:
        import os, sys
        print("before dying:", *_seen, flush=True)
        sys.stderr.write(_seen[-1] + "\\n")
        os._exit(3)
    return _solution_sgd_step(params, grads, lr)
"""


@pytest.mark.parametrize("dies", [False, True], ids=["raises", "dies"])
def test_what_a_submission_prints_or_raises_on_hidden_cases_shows_only_in_the_hidden_tests(kit, tmp_path, dies):
    folder, course = kit
    public = {(*c.sizes, c.N) for c in DEFAULT_CASES}
    hidden = draw_cases(HIDDEN_SEED)
    assert not public & {(*c.sizes, c.N) for c in hidden}  # the submission can tell them apart
    secrets = {f"{x:.9f}" for c in hidden for x in case_data(c)[0].ravel()[:3]}
    submission = tmp_path / ("dies" if dies else "raises") / "backprop.py"
    submission.parent.mkdir()
    submission.write_text((course / "solution" / "backprop.py").read_text()
                          + LEAKS_ON_HIDDEN_CASES.format(public=public, dies=dies))
    status, out, doc = dry_run(folder, course / "autograder.zip", submission)
    validate(doc)
    visible = [t for t in doc["tests"] if t["visibility"] == "visible"]
    kept = [t for t in doc["tests"] if t["visibility"] == "after_published"]
    assert [t["name"] for t in visible] == [f"{p}: public cases" for p in FULL]
    shown = [doc["output"], json.dumps(doc["extra_data"])] + [t["output"] for t in visible]
    assert not [s for s in secrets if any(s in text for text in shown)], shown
    assert "HIDDEN-I" not in "".join(shown)
    assert all(t["status"] == "passed" for t in visible), visible  # the public results stand
    leaked = [t["name"] for t in kept if any(s in t["output"] for s in secrets)]  # where it may show
    if dies:
        assert doc["score"] == 5.0 and all(t["score"] == 0 for t in kept), out
        assert all("not graded: exited with status 3" in t["output"] for t in kept), kept
        assert leaked == [t["name"] for t in kept]  # what it printed, under each hidden test
        assert "hidden cases were not all graded" in doc["output"]
    else:
        assert doc["score"] == 7.0 and part_scores(doc)["backward"] == (3.0, 6.0), out
        assert leaked == ["backward: hidden cases"]  # its message, in that test alone
