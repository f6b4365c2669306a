"""What grading a class costs next to grading one file: the batch ratio.

    python scripts/grade_batch_cost.py [--count 40] [--jobs 2] [--repeat 3]
                                       [--reference autograd|finite_differences]

Writes ``count`` submissions (every fourth one with a transposed gradient, so
the diagnosis is paid for too) in a temporary folder, then times, as a course
would run them, ``python -m torch_ref.grade one.py`` and ``python -m
torch_ref.grade FOLDER --jobs N``, alternately, ``repeat`` times each. Prints the
median wall time of each and their ratio. The target is a ratio of at most 3
for 40 submissions with ``--jobs 2`` on a 2-core machine: each extra
submission costs a child's start (Python and NumPy, no torch) and its
grading, while torch's import and the references are paid once.
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


def _time(args) -> tuple:
    """(wall seconds, CPU seconds of the grader and all its children) of one grader run."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
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
    args = parser.parse_args(argv)
    right, wrong = (HONEST / "correct.py").read_text(), (HONEST / "transposed.py").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "class")
        folder.mkdir()
        for i in range(args.count):
            (folder / f"student_{i:03d}.py").write_text(wrong if i % 4 == 3 else right)
        one = folder / "student_000.py"
        common = ["--reference", args.reference]
        singles, batches = [], []
        for _ in range(args.repeat):
            singles.append(_time([one, *common]))
            batches.append(_time([folder, "--jobs", args.jobs, *common]))
    (single, single_cpu), (batch, batch_cpu) = _median(singles), _median(batches)
    print(f"one file:             {single:6.2f} s wall, {single_cpu:6.2f} s CPU  (median of {args.repeat})")
    print(f"{args.count} files, --jobs {args.jobs}: {batch:6.2f} s wall, {batch_cpu:6.2f} s CPU")
    print(f"ratio: {batch / single:.2f}  (target ≤ 3 for 40 files, --jobs 2, 2 cores; "
          f"this machine has {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
    print(f"CPU ratio: {batch_cpu / single_cpu:.2f}; on {args.jobs} idle cores the batch's wall time "
          f"is at least CPU / {args.jobs}, a ratio of at least {batch_cpu / args.jobs / single_cpu:.2f}")
    return 0


def _median(runs) -> tuple:
    return tuple(statistics.median(r[i] for r in runs) for i in range(2))


if __name__ == "__main__":
    sys.exit(main())
