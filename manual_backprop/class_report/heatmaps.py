"""Pictures of a wrong gradient: the candidate, the reference and their difference, side by side.

    manual-backprop grade submissions/ --plot pictures/

Needs NumPy and matplotlib (the ``plot`` extra), imported only here. One PNG per
wrong parameter and graded net, in a folder per submission
(``pictures.folder_name``): ``DIR/<submission>/<net>__<parameter>.png``.

- The candidate and the reference share one colour scale (symmetric about 0),
  so a scaled or negated gradient shows as the same pattern in other shades;
  the difference has its own.
- Each panel is titled with its shape. A candidate of another shape is drawn
  in its own shape (a transposed one lies on its side); the difference is
  then taken with the candidate transposed (or reshaped, when only that
  fits) and its title says so, or left out when no reading makes the shapes
  agree. A missing or non-numeric candidate leaves the reference alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .pictures import folder_name

CMAP = "RdBu_r"  # red positive, blue negative, white zero


def _as_matrix(value) -> Optional[np.ndarray]:
    """A 2-D float array to draw (a vector as one row), or None when the value cannot be drawn."""
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim == 0 or arr.ndim > 2 or arr.size == 0:
        return None
    return arr.reshape(1, -1) if arr.ndim == 1 else arr


def _shape(value) -> str:
    shape = np.shape(value) if value is not None else None
    return "missing" if shape is None else "(" + "×".join(map(str, shape)) + ")" if shape else "(scalar)"


def _limit(*arrays) -> float:
    """The largest finite magnitude over ``arrays``, 1 when there is none."""
    finite = [np.abs(a[np.isfinite(a)]).max() for a in arrays if a is not None and np.isfinite(a).any()]
    top = max(finite, default=0.0)
    return float(top) if top > 0 else 1.0


def difference(candidate: Optional[np.ndarray], reference: np.ndarray) -> tuple:
    """(candidate − reference as drawn, its title), or (None, why not): the candidate is taken
    as it is, transposed, or reshaped, whichever first has the reference's shape."""
    if candidate is None:
        return None, "no candidate to compare"
    if candidate.shape == reference.shape:
        return candidate - reference, "difference candidate − reference"
    if candidate.T.shape == reference.shape:
        return candidate.T - reference, "difference candidateᵀ − reference"
    if candidate.size == reference.size:
        return candidate.reshape(reference.shape) - reference, "difference (candidate reshaped) − reference"
    return None, "shapes differ: no difference"


def figure(name: str, candidate, reference, title: str = ""):
    """A matplotlib Figure: candidate, reference, difference (the panels that apply), as heatmaps."""
    from matplotlib.figure import Figure  # the plot extra; checked by the command before grading
    from matplotlib.ticker import MaxNLocator

    ref = _as_matrix(reference)
    assert ref is not None, "the reference is always a drawable array"
    cand = _as_matrix(candidate)
    diff, diff_title = difference(cand, ref)
    pair_limit, diff_limit = _limit(cand, ref), _limit(diff)
    # (array, title, colour limit, whether a colour bar follows): one bar per scale
    panels = [(cand, f"candidate {_shape(candidate)}", pair_limit, False)] if cand is not None else []
    panels.append((ref, f"reference {_shape(reference)}", pair_limit, True))
    if diff is not None:
        panels.append((diff, f"{diff_title} {_shape(diff)}", diff_limit, True))
    fig = Figure(figsize=(3.4 * len(panels) + 0.6, 3.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (arr, label, limit, bar) in zip(axes, panels):
        image = ax.imshow(np.ma.masked_invalid(arr), cmap=CMAP, vmin=-limit, vmax=limit,
                          interpolation="nearest", aspect="auto")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(f"columns ({arr.shape[1]})", fontsize=8)
        ax.set_ylabel(f"rows ({arr.shape[0]})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if bar:
            fig.colorbar(image, ax=ax, shrink=0.85)
    heading = f"{name}: {title}" if title else name
    if diff is None:
        heading += f" ({diff_title})"
    fig.suptitle(heading, fontsize=10)
    return fig


def draw_submission(submission, folder: Path) -> list:
    """One PNG per wrong parameter and net of a graded ``batch.Submission`` whose reports kept
    their arrays (``CachedCheck(keep_arrays=True)``); the paths written."""
    written = []
    target = folder / folder_name(submission.path)
    for result in submission.results:
        report = result.report
        if report is None or report.problem or not report.arrays:
            continue
        for name, (candidate, reference) in report.arrays.items():
            code = report.params[name].diagnosis if name in report.params else None
            fig = figure(name, candidate, reference, f"{result.case.label}, {code or 'wrong'}")
            target.mkdir(parents=True, exist_ok=True)
            path = target / f"{folder_name(result.case.label)}__{folder_name(name)}.png"
            fig.savefig(path, dpi=80)
            written.append(path)
    return written


def draw_class(submissions, folder: Path) -> list:
    """``draw_submission`` for each graded submission; every path written."""
    return [path for s in submissions for path in draw_submission(s, folder)]
