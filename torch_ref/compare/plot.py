"""A picture of a lockstep run: both loss curves overlaid, and the twins' gradient differences per step.

matplotlib is an optional extra (``pip install "manual-backprop[plot]"``), imported only
when a picture is drawn.
"""

from __future__ import annotations

import numpy as np

from .._extras import MissingExtraError, missing_extra


def plot_lockstep(result, path: str, title: str = "") -> None:
    """Write a PNG: left, the loss per step of both twins; right, max relative gradient difference per step.

    The right panel's axis is logarithmic; steps where a parameter's gradients
    agree bit for bit (difference 0) have no point there. The dashed line is
    the dtype's tolerance.
    """
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError(missing_extra("drawing the figure", "matplotlib", "plot")) from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    steps = np.array([r.step for r in result.records])
    fig, (ax_loss, ax_diff) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=90)
    ax_loss.plot(steps, [r.loss_manual for r in result.records], lw=2.2, alpha=0.6,
                 label="manual (NumPy)")
    ax_loss.plot(steps, [r.loss_torch for r in result.records], lw=0.9, ls="--", color="k",
                 label="torch twin")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("SGD step")
    ax_loss.set_ylabel("mini-batch loss")
    ax_loss.set_title("loss curves, overlaid")
    ax_loss.legend()

    for name in result.names[1:]:
        rel = np.array([r.diffs[name].max_rel_err for r in result.records])
        ax_diff.plot(steps, np.where(rel > 0, rel, np.nan), lw=0.9, label=f"dL/d{name}")
    ax_diff.axhline(result.tolerance.rtol, color="r", ls="--", lw=1, label="tolerance")
    ax_diff.set_yscale("log")
    ax_diff.set_xlabel("SGD step")
    ax_diff.set_ylabel("max |manual − torch| / max |torch|")
    ax_diff.set_title("gradient difference of the twins")
    ax_diff.set_ylim(top=result.tolerance.rtol * 1000)  # room for the legend above the curves
    ax_diff.legend(fontsize="small", ncol=3, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
