"""What the course kit's autograder costs: its setup.sh, and one run_autograder next to one grade.

    python scripts/autograder_cost.py [--repeat 5] [--setups 2]

Makes the seed's assignment in a temporary folder (``manual-backprop assignment
new``), then, as Gradescope would:

- runs ``setup.sh`` ``--setups`` times, each into a fresh virtual environment
  (the image build), and once more into the last one (``assignment check --reuse``);
- times ``run_autograder`` on the solution and, in the same virtual environment,
  ``manual-backprop grade`` on the same file (finite differences, the image's
  reference), alternately, after one warm-up of each, ``--repeat`` times each.

Prints the medians and their ratio. The target is a run_autograder of at most 2 ×
grade, although it grades every part on twice the nets (the public ones and those
drawn from the hidden seed). Also, in this interpreter, grade's time against autograd
(torch imported) for the choice of reference, and the size of the image's environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(command, env, cwd) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        sys.exit(f"{command[0]} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return elapsed


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--setups", type=int, default=2)
    args = parser.parse_args(argv)
    if args.setups < 1 or args.repeat < 1:
        parser.error("--setups and --repeat must be at least 1")
    here = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        course, root = Path(tmp, "course"), Path(tmp, "root")
        subprocess.run([sys.executable, "-m", "torch_ref.course.assignment", "new", str(course), "--seed", "1"],
                       env=here, check=True, capture_output=True)
        shutil.unpack_archive(course / "autograder.zip", root / "source", "zip")
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
        solution = root / "submission" / "backprop.py"
        solution.parent.mkdir()
        shutil.copy2(course / "solution" / "backprop.py", solution)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
        setups = []
        for i in range(args.setups):
            venv = root / f"venv{i}"
            setups.append(_timed(["bash", str(root / "source" / "setup.sh")], dict(env, AUTOGRADER_VENV=str(venv)),
                                 root / "source"))
        env["AUTOGRADER_VENV"] = str(venv)
        reused = _timed(["bash", str(root / "source" / "setup.sh")], env, root / "source")
        run = ["bash", str(root / "run_autograder")]
        grade = [str(venv / "bin" / "manual-backprop"), "grade", str(solution), "--reference", "finite_differences"]
        _timed(run, env, root), _timed(grade, env, root)  # warm-up: the page cache, .pyc files
        runs, grades = [], []
        for _ in range(args.repeat):
            runs.append(_timed(run, env, root))
            grades.append(_timed(grade, env, root))
        venv_mb = _size_mb(venv)
        autograd = [_timed([sys.executable, "-m", "torch_ref.grade", str(solution)], here, ROOT)
                    for _ in range(max(2, args.repeat // 2))]
    run_s, grade_s = statistics.median(runs), statistics.median(grades)
    print(f"setup.sh, fresh venv:   {', '.join(f'{s:.1f}' for s in setups)} s   (reused venv: {reused:.1f} s)")
    print(f"run_autograder:         {run_s:6.2f} s  (median of {args.repeat}; every part, 4 public + 4 hidden nets)")
    print(f"grade, same file:       {grade_s:6.2f} s  (finite differences, 4 public nets)")
    print(f"ratio:                  {run_s / grade_s:6.2f}  (target ≤ 2; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"grade against autograd: {statistics.median(autograd):6.2f} s  (this interpreter, torch imported)")
    print(f"the image's venv:       {venv_mb:6.1f} MB without torch", end="")
    try:
        import torch

        print(f"; torch alone is {_size_mb(Path(torch.__file__).parent):.0f} MB here")
    except ImportError:
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
