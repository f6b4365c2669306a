"""The dry run: an assignment's autograder.zip, run as Gradescope would, on the submissions a course sees.

Each run is ``manual-backprop assignment check``: the zip unpacked into a
Gradescope-like root, ``setup.sh`` installing the zip's own wheel (and NumPy)
into a virtual environment without torch, ``run_autograder`` grading the file
with nothing of this repository on its path. One venv serves every run
(``helpers.course``); each results.json is checked against Gradescope's format.
"""

from __future__ import annotations

import json
import subprocess

import pytest

import manual_backprop
from helpers.course import dry_run, locked, made, part_scores, shared_folder, validate

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
