"""What naming a mistake costs: ``manual-backprop grade`` before and after, side by side.

    python scripts/diagnosis_cost.py [--before /work/main] [--repeat 5] [--seed N]

Writes two submissions in a temporary folder, a right backward
(``tests/submissions/honest/correct.py``) and the same with a mistake the
diagnosis knows no name for (dL/dO taken as (O − Y)², so every
parameter is read against every hypothesis and every pair before it is called
``unknown``), then, after one warm-up run of each, times alternately:

- the whole command, ``python -c "from torch_ref.cli import main; main()" grade
  FILE`` (``manual-backprop grade`` without the console script's own lookup),
  run from each tree with ``PYTHONPATH`` set to it: interpreter start, torch's
  import, the child process and the grading;
- the grading alone, in one process per tree: ``cases.grade`` against autograd
  on the default nets (or ``--seed``'s drawn nets), 4 × ``--repeat`` times.

Prints the median and the fastest run of each, and their ratios after / before
(on a shared, loaded machine the fastest is the steadier of the two); the
target is at most 1.5 on the default nets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RIGHT = (ROOT / "tests" / "submissions" / "honest" / "correct.py").read_text()  # the seed's backward
NO_KNOWN_MISTAKE = RIGHT.replace('+ params["b_O"] - Y\n', '+ params["b_O"] - Y\n    dO = dO ** 2\n')
if NO_KNOWN_MISTAKE == RIGHT:
    sys.exit("tests/submissions/honest/correct.py no longer has the line dO = ... - Y this script changes")
# Run in a fresh process per tree: import the oracle from there, grade ``repeat`` times, print the seconds.
IN_PROCESS = '''
import importlib.util, sys, time
from manual_backprop.oracle.cases import DEFAULT_CASES, grade
from manual_backprop.oracle.hidden import draw_cases
from torch_ref import check_gradients
import torch
torch.set_num_threads(1)  # tiny matrices: a thread pool on a shared machine only adds noise
spec = importlib.util.spec_from_file_location("submission", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
cases = DEFAULT_CASES if sys.argv[3] == "none" else draw_cases(int(sys.argv[3]))
grade(module.backward, cases, check=check_gradients)  # warm-up
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    grade(module.backward, cases, check=check_gradients)
    times.append(time.perf_counter() - start)
print(" ".join(map(str, times)))
'''


def _env(tree: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(tree))


def _command(tree: Path, path: Path, seed) -> float:
    """Wall seconds of one ``manual-backprop grade FILE`` run from ``tree``."""
    args = [sys.executable, "-c", "import sys; from torch_ref.cli import main; sys.exit(main())", "grade", str(path)]
    if seed is not None:
        args += ["--seed", str(seed)]
    start = time.perf_counter()
    result = subprocess.run(args, capture_output=True, text=True, cwd=tree, env=_env(tree))
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        sys.exit(f"the grader failed in {tree}:\n{result.stderr}")
    return elapsed


def _in_process(tree: Path, path: Path, repeat: int, seed) -> list:
    result = subprocess.run([sys.executable, "-c", IN_PROCESS, str(path), str(repeat), str(seed or "none")],
                            capture_output=True, text=True, cwd=tree, env=_env(tree))
    if result.returncode != 0:
        sys.exit(f"grading in {tree} failed:\n{result.stderr}")
    return [float(t) for t in result.stdout.split()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, default=Path("/work/main"), help="the tree to compare with")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None, help="grade on the nets drawn from this seed")
    args = parser.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        files = {"right": Path(tmp, "right.py"), "no known mistake": Path(tmp, "unknown.py")}
        files["right"].write_text(RIGHT)
        files["no known mistake"].write_text(NO_KNOWN_MISTAKE)
        print(f"nets: {'default' if args.seed is None else f'drawn from seed {args.seed}'}; "
              f"median of {args.repeat} commands and {4 * args.repeat} gradings, after a warm-up; {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'':34}{'median: before':>16}{'after':>9}{'ratio':>8}   {'fastest: before':>17}{'after':>9}"
              f"{'ratio':>8}")
        for name, path in files.items():
            for tree in trees.values():
                _command(tree, path, args.seed)  # warm-up: the file system cache, compiled bytecode
            runs: dict = {k: [] for k in trees}
            for _ in range(args.repeat):
                for k, tree in trees.items():
                    runs[k].append(_command(tree, path, args.seed))
            _row(f"{name}, the command", runs)
            _row(f"{name}, grading alone", {k: _in_process(tree, path, 4 * args.repeat, args.seed)
                                            for k, tree in trees.items()})
    return 0


def _row(label: str, runs: dict) -> None:
    cells = []
    for pick in (statistics.median, min):
        before, after = pick(runs["before"]), pick(runs["after"])
        cells.append(f"{before:8.3f}s{after:8.3f}s{after / before:7.2f}×")
    print(f"{label:34}" + "   ".join(cells))


if __name__ == "__main__":
    sys.exit(main())
