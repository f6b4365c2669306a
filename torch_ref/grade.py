"""Grade a student's backprop from the command line.

    python -m torch_ref.grade path/to/solution.py [--function backward]

Loads ``solution.py``, takes its ``backward(params, I, Y) -> grads`` (what it
receives is documented in ``manual_backprop.oracle.cases``), checks it against
autograd on several seeded nets (the seed's, non-square ones, N = 1 and N > 1)
and prints one per-parameter table per net, each mistake named with the seed
equation that fixes it.

Exit status: 0 when every net passes; 1 when any gradient is wrong or the
solution raises (on import or when called); 2 for a usage error (no such file,
no such function, bad option).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Sequence

from manual_backprop.activations import get_activation
from manual_backprop.losses import get_loss
from manual_backprop.oracle import check_gradients_fd
from manual_backprop.oracle.cases import grade, summary


def _load(path: Path, module_name: str = "graded_solution"):
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # not a file Python can load as a module
        raise ImportError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # so the solution can import its own helpers
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m torch_ref.grade",
                                     description="Check a student's backward(params, I, Y) -> grads.")
    parser.add_argument("solution", type=Path, help="the Python file defining the function")
    parser.add_argument("--function", default="backward", help="its name (default: backward)")
    parser.add_argument("--activation", default="sigmoid", help="hidden activation (default sigmoid)")
    parser.add_argument("--output-activation", default="identity")
    parser.add_argument("--loss", default="half_sse")
    parser.add_argument("--reference", choices=["autograd", "finite_differences"], default="autograd")
    args = parser.parse_args(argv)

    try:
        get_activation(args.activation)
        get_activation(args.output_activation, "output_activation")
        get_loss(args.loss)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not args.solution.is_file():
        print(f"error: no such file: {args.solution}", file=sys.stderr)
        return 2
    try:
        module = _load(args.solution)
    except Exception:
        print(f"FAILED: importing {args.solution} raised:\n{traceback.format_exc()}")
        return 1
    backward = getattr(module, args.function, None)
    if not callable(backward):
        names = sorted(n for n in vars(module) if callable(vars(module)[n]) and not n.startswith("_"))
        print(f"error: {args.solution} defines no function {args.function!r}; "
              f"its functions: {names}; choose one with --function", file=sys.stderr)
        return 2
    if args.reference == "autograd":
        from .autograd import check_gradients  # torch: only for this reference; names the extra if missing
        check = check_gradients
    else:
        check = check_gradients_fd
    try:
        results = grade(backward, activation=args.activation, output_activation=args.output_activation,
                        loss=args.loss, check=check)
    except Exception:
        print(f"FAILED: {args.function} raised:\n{traceback.format_exc()}")
        return 1
    print(summary(results))
    return 0 if all(r.report.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
