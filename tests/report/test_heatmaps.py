"""grade --plot: a heatmap file per wrong parameter and net, each figure with the panels that apply,
the candidate in its own shape, one colour scale shared by candidate and reference."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.grading import SUBMISSIONS, grade
from manual_backprop.class_report.pictures import folder_name
from manual_backprop.oracle.cases import DEFAULT_CASES

pytest.importorskip("matplotlib", reason="the pictures need matplotlib: pip install 'manual-backprop[plot]'")

from matplotlib.image import imread  # noqa: E402  (after the skip: matplotlib is optional)

from manual_backprop.class_report.heatmaps import figure  # noqa: E402

FD = ("--reference", "finite_differences")  # no torch needed: the pictures are the subject here
RNG = np.random.default_rng(0)
REF = RNG.standard_normal((3, 5))


def panels(fig):
    """The heatmaps of a figure (the colour bars are axes too, without an image)."""
    return [ax for ax in fig.axes if ax.images]


@pytest.mark.parametrize("candidate,count,diff_title", [
    pytest.param(2 * REF, 3, "candidate − reference", id="scaled-same-shape"),
    pytest.param(REF.T.copy(), 3, "candidateᵀ − reference", id="transposed"),
    pytest.param(REF.reshape(-1), 3, "(candidate reshaped) − reference", id="flat"),
    pytest.param(RNG.standard_normal((3, 7)), 2, None, id="other-shape"),
    pytest.param(None, 1, None, id="missing"),
    pytest.param("not an array", 1, None, id="not-numeric"),
])
def test_each_figure_has_the_panels_that_apply(candidate, count, diff_title):
    fig = figure("W_O", candidate, REF, "a net")
    shown = panels(fig)
    assert len(shown) == count
    titles = [ax.get_title() for ax in shown]
    assert any(t.startswith("reference (3×5)") for t in titles)
    if diff_title:
        assert diff_title in titles[-1]
    if count >= 2 and candidate is not None:
        drawn = np.asarray(shown[0].images[0].get_array())
        assert drawn.shape == np.atleast_2d(np.asarray(candidate)).shape  # its own shape, not the reference's
        assert shown[0].images[0].get_clim() == shown[1].images[0].get_clim()  # one scale for the pair


def test_the_difference_has_its_own_scale():
    fig = figure("W_O", REF + 1e-3, REF)
    pair, diff = panels(fig)[1], panels(fig)[2]
    assert pair.images[0].get_clim()[1] == pytest.approx(max(np.abs(REF).max(), np.abs(REF + 1e-3).max()))
    assert diff.images[0].get_clim()[1] == pytest.approx(1e-3)


def test_grade_plot_writes_a_picture_per_wrong_parameter_and_net(tmp_path):
    submission = SUBMISSIONS / "honest" / "transposed.py"
    result = grade(submission, SUBMISSIONS / "honest" / "correct.py", "--plot", tmp_path / "plots",
                   "--format", "json", *FD)
    assert result.returncode == 1, result.stderr
    wrong = {(c["label"], name) for s in json.loads(result.stdout)["submissions"] for c in s["cases"]
             for name, p in c["params"].items() if not p["passed"]}
    assert {name for _, name in wrong} == {"W_O"} and len(wrong) == len(DEFAULT_CASES)
    folder = tmp_path / "plots" / folder_name(str(submission))
    files = sorted(folder.glob("*.png"))
    assert sorted(f.name for f in files) == sorted(f"{folder_name(label)}__W_O.png" for label, _ in wrong)
    for f in files:
        image = imread(f)
        assert image.ndim == 3 and image.shape[1] > 2 * image.shape[0]  # three panels side by side
        assert image[..., :3].std() > 0.05  # drawn, not blank
    assert not any((tmp_path / "plots").glob(f"{folder_name(str(SUBMISSIONS / 'honest' / 'correct.py'))}*"))


def test_without_matplotlib_the_message_names_the_extra(tmp_path):
    hide = "import sys; sys.modules['matplotlib'] = None; "
    result = grade(SUBMISSIONS / "honest" / "transposed.py", "--plot", tmp_path, *FD, prelude=hide)
    assert result.returncode == 2
    assert 'pip install "manual-backprop[plot]"' in result.stderr and "--plot" in result.stderr
