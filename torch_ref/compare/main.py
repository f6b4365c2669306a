"""The main job: train the manual net and its torch twin side by side and report how closely they agree.

    manual-backprop compare                            # the seed's net on generated data
    manual-backprop compare --plot compare.png         # also draw the loss curves and differences
    manual-backprop compare --dataset digits --dtype float32 --epochs 20   # needs the digits extra

(``python scripts/compare.py`` in a clone runs the same.)

By default it runs the seed's net (4-16-2, sigmoid hidden, identity output,
``half_sse``) on a generated data set: both twins start from the same weights
(seeded), see the same mini-batches and take their own SGD steps. It prints,
per parameter, the largest absolute and relative difference between the twins'
gradients at the first step and at the worst step, and both loss curves in
brief. Exit status 1 if the twins drift apart beyond the dtype's tolerance
(``manual_backprop/oracle/tolerances.py``) at any step, 2 on bad options.

``--plot`` needs matplotlib (``pip install "manual-backprop[plot]"``),
``--dataset digits`` needs scikit-learn (``pip install "manual-backprop[digits]"``);
the default run needs neither (but torch: the ``torch`` extra).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from manual_backprop import ACTIVATIONS, LOSSES, MLP
from torch_ref._extras import missing_extra
from torch_ref.compare.datasets import DIGITS_SIZES, digits, generated, minibatches, n_batches

PROGRESS_FROM = 2000  # steps: shorter runs finish before a progress bar would help


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["generated", "digits"], default="generated",
                   help="generated (built in, the default) or scikit-learn's digits")
    p.add_argument("--sizes", type=int, nargs="+", metavar="D",
                   help="layer widths D_I D_H ... D_O (default: 4 16 2; for digits 64 32 10)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="sigmoid",
                   help="hidden activation (default: sigmoid)")
    p.add_argument("--output-activation", choices=sorted(ACTIVATIONS), default="identity",
                   help="output activation (default: identity)")
    p.add_argument("--loss", choices=sorted(LOSSES),
                   help="default: half_sse; for digits softmax_cross_entropy")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--lr", type=float,
                   help="learning rate (default: 0.01 for half_sse, which sums over the batch; else 0.5)")
    p.add_argument("--epochs", type=int, default=50, help="passes over the data (default: 50)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size N (default: 32)")
    p.add_argument("--seed", type=int, default=0, help="seeds the weights, the data and the shuffling")
    p.add_argument("--resync", action="store_true",
                   help="give the twin the manual weights before every step: each step's own difference, "
                        "without the drift that rounding builds up (float32 with relu drifts most)")
    p.add_argument("--plot", metavar="PATH", help="write a PNG of the loss curves and gradient differences")
    p.add_argument("--no-progress", action="store_true", help="no progress bar, even on long runs")
    args = p.parse_args(argv)

    digits_run = args.dataset == "digits"
    if args.sizes is None:
        args.sizes = [64, 32, 10] if digits_run else [4, 16, 2]
    if args.loss is None:
        args.loss = "softmax_cross_entropy" if digits_run else "half_sse"
    if args.lr is None:
        args.lr = 0.01 if args.loss == "half_sse" else 0.5
    if len(args.sizes) < 2 or min(args.sizes) < 1:
        p.error(f"--sizes needs at least two positive widths D_I ... D_O; got {args.sizes}")
    if digits_run and (args.sizes[0], args.sizes[-1]) != DIGITS_SIZES:
        p.error(f"digits has {DIGITS_SIZES[0]} inputs and {DIGITS_SIZES[1]} classes: --sizes must "
                f"start with {DIGITS_SIZES[0]} and end with {DIGITS_SIZES[1]}; got {args.sizes}")
    if args.epochs < 1 or args.batch_size < 1:
        p.error(f"--epochs and --batch-size must be positive; got {args.epochs} and {args.batch_size}")
    if args.plot:
        try:
            import matplotlib  # noqa: F401  (checked now, before training, not after)
        except ImportError:
            p.error(missing_extra("--plot", "matplotlib", "plot"))
    if digits_run:
        try:
            import sklearn  # noqa: F401
        except ImportError:
            p.error(missing_extra("--dataset digits", "scikit-learn", "digits"))
    return args


def load_data(args):
    """Inputs (D_I, n) and targets, in the run's dtype (class indices stay integers)."""
    class_index = LOSSES[args.loss].class_index
    if args.dataset == "digits":
        X, Y = digits(class_index)
    else:
        X, Y = generated(args.sizes[0], args.sizes[-1], class_index, seed=args.seed)
    return X.astype(args.dtype), (Y if class_index else Y.astype(args.dtype))


class Progress:
    """A progress bar on stderr: tqdm's when it is installed, else a plain one."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.bar = total, 0, None
        self.enabled = enabled
        if enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, unit="step", file=sys.stderr)
            except ImportError:
                pass

    def __call__(self, record) -> None:
        if not self.enabled:
            return
        self.done += 1
        if self.bar is not None:
            self.bar.update()
        elif self.done % max(1, self.total // 50) == 0 or self.done == self.total:
            filled = 40 * self.done // self.total
            print(f"\r[{'#' * filled}{'.' * (40 - filled)}] {self.done}/{self.total} steps",
                  end="" if self.done < self.total else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from torch_ref._torch import torch  # after the options are known to be good; names the extra if missing
    from torch_ref.compare.lockstep import lockstep

    # The nets compared here are small: one thread spares torch its thread team's start-up and
    # stalls on a busy machine. Threads change speed only, not what is compared.
    torch.set_num_threads(1)

    X, Y = load_data(args)
    net = MLP(args.sizes, activation=args.activation, output_activation=args.output_activation,
              loss=args.loss, dtype=args.dtype, seed=args.seed)
    steps = n_batches(X.shape[1], args.batch_size, args.epochs)
    print(f"{net!r}\ndata: {args.dataset}, {X.shape[1]} samples; {args.epochs} epochs of mini-batches "
          f"of {args.batch_size} = {steps} SGD steps, lr {args.lr:g}")

    progress = Progress(steps, enabled=steps >= PROGRESS_FROM and not args.no_progress)
    result = lockstep(net, minibatches(X, Y, args.batch_size, args.epochs, seed=args.seed),
                      args.lr, resync=args.resync, on_step=progress)
    progress.close()

    print("\ndifference of the twins (manual − torch) in the loss and each gradient")
    print(result.table())
    print("\nloss curves")
    print(result.loss_curves())
    drift = max(result.final_weights.values(), key=lambda d: d.max_rel_err)
    print(f"\nweights after the last step: max rel difference {drift.max_rel_err:.2e}"
          f"{' (resynced every step)' if args.resync else ''}")
    if args.plot:
        from torch_ref.compare.plot import plot_lockstep as plot
        plot(result, args.plot, title=f"{'-'.join(map(str, args.sizes))} {args.activation}/"
             f"{args.output_activation}, {args.loss}, {args.dtype}, {args.dataset}")
        print(f"\nwrote {args.plot}")
    failure = result.first_failure
    if failure is None:
        print(f"\ntwins agree at every one of {len(result.records)} steps")
        return 0
    bad = [k for k, d in failure.diffs.items() if not d.passed]
    n_bad = sum(not r.passed for r in result.records)
    print(f"\nTWINS DISAGREE at {n_bad} of {len(result.records)} steps, first at step {failure.step} "
          f"({', '.join(bad)} beyond tolerance)")
    if not args.resync:
        print("(twins that each take their own steps drift apart by rounding; --resync shows whether "
              "a single step's gradients still agree)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
