"""What grading a class costs next to grading one file: the batch ratio.

    python scripts/grade_batch_cost.py [--count 40] [--jobs 2] [--repeat 3]
                                       [--reference autograd|finite_differences] [--against DIR]

Writes ``count`` submissions (every fourth one with a transposed gradient, so
the diagnosis is paid for too) in a temporary folder, then times, as a course
would run them, ``python -m torch_ref.grade one.py`` and ``python -m
torch_ref.grade FOLDER --jobs N``, alternately, ``repeat`` times each. Prints the
median wall time of each and their ratio. The target is a ratio of at most 3
for 40 submissions with ``--jobs 2`` on a 2-core machine: each extra
submission costs a child's start (Python and NumPy, no torch) and its
grading, while torch's import and the references are paid once.

``--against DIR`` times the grader of another checkout too (``DIR`` on
``PYTHONPATH``, e.g. the main branch's), interleaved with this one's run for
run, on the same files: the two rows and their ratios side by side tell what
a change to the grader costs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HONEST = ROOT / "tests" / "submissions" / "honest"


def _time(args, code: Path = ROOT) -> tuple:
    """(wall seconds, CPU seconds of the grader and all its children) of one run of ``code``'s grader."""
    env = dict(os.environ, PYTHONPATH=str(code))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "torch_ref.grade", *map(str, args)],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        sys.exit(f"the grader failed:\n{result.stderr}")
    return elapsed, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", choices=["autograd", "finite_differences"], default="autograd")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="also time the grader of this checkout, run for run with this one's")
    args = parser.parse_args(argv)
    codes = {"this tree": ROOT}
    if args.against is not None:
        if not (args.against / "torch_ref" / "grade.py").is_file():
            parser.error(f"--against: no torch_ref/grade.py in {args.against}")
        codes[str(args.against)] = args.against.resolve()
    right, wrong = (HONEST / "correct.py").read_text(), (HONEST / "transposed.py").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "class")
        folder.mkdir()
        for i in range(args.count):
            (folder / f"student_{i:03d}.py").write_text(wrong if i % 4 == 3 else right)
        one = folder / "student_000.py"
        common = ["--reference", args.reference]
        runs: dict = {name: ([], []) for name in codes}
        for code in codes.values():  # a warm-up run of each, not counted
            _time([one, *common], code)
        for _ in range(args.repeat):
            for name, code in codes.items():
                runs[name][0].append(_time([one, *common], code))
                runs[name][1].append(_time([folder, "--jobs", args.jobs, *common], code))
    for name, (singles, batches) in runs.items():
        (single, single_cpu), (batch, batch_cpu) = _median(singles), _median(batches)
        print(f"== {name}")
        print(f"one file:             {single:6.2f} s wall, {single_cpu:6.2f} s CPU  (median of {args.repeat})")
        print(f"{args.count} files, --jobs {args.jobs}: {batch:6.2f} s wall, {batch_cpu:6.2f} s CPU")
        print(f"ratio: {batch / single:.2f}  (target ≤ 3 for 40 files, --jobs 2, 2 cores)")
        print(f"CPU ratio: {batch_cpu / single_cpu:.2f}; on {args.jobs} idle cores the batch's wall time "
              f"is at least CPU / {args.jobs}, a ratio of at least {batch_cpu / args.jobs / single_cpu:.2f}")
    if len(runs) == 2:
        (mine, other) = [(_median(s)[0], _median(b)[0]) for s, b in runs.values()]
        print(f"this tree / {args.against}: one file {mine[0] / other[0]:.2f}, "
              f"batch {mine[1] / other[1]:.2f}")
    print(f"this machine has {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    return 0


def _median(runs) -> tuple:
    return tuple(statistics.median(r[i] for r in runs) for i in range(2))


if __name__ == "__main__":
    sys.exit(main())
