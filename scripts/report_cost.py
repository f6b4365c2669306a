"""What the class report costs: time and page size for 100, 1,000 and 10,000 submissions.

    python scripts/report_cost.py [--counts 100 1000 10000] [--repeat 3]

Each class is made by planting mistakes (``tests/helpers/planted_class.py``:
nothing is graded) and written as ``grade --format json`` writes it. The
command then runs as a teacher runs it, in a fresh interpreter, writing the
text, the HTML page and the CSV:
``manual-backprop report class.json --html class.html --csv class.csv``.
One warm-up run, then ``repeat`` timed ones; prints the median wall time
beside the target (10 s for 10,000 submissions) and the sizes beside 5 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test helpers, importable as `helpers`

from helpers.planted_class import planted_class  # noqa: E402

TARGET_SECONDS = 10.0  # for 10,000 submissions
TARGET_BYTES = 5_000_000


def run_once(folder: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "manual_backprop.class_report.command", str(folder / "class.json"),
               "--html", str(folder / "class.html"), "--csv", str(folder / "class.csv")]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"the report failed ({result.returncode}): {result.stderr}")
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'submissions':>11}  {'input JSON':>10}  {'median s':>8}  {'s / 10 s':>8}  {'HTML':>9}  "
          f"{'HTML / 5 MB':>11}  {'CSV':>9}")
    over = False
    for n in args.counts:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            doc, _ = planted_class(n, seed=n)
            (folder / "class.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")  # as grade writes it
            run_once(folder)  # warm-up: the disk cache, the bytecode
            times = [run_once(folder) for _ in range(args.repeat)]
            median = statistics.median(times)
            html = (folder / "class.html").stat().st_size
            print(f"{n:>11,}  {_mb((folder / 'class.json').stat().st_size):>10}  {median:>8.2f}  "
                  f"{median / TARGET_SECONDS:>8.2f}  {_mb(html):>9}  {html / TARGET_BYTES:>11.2f}  "
                  f"{_mb((folder / 'class.csv').stat().st_size):>9}")
            over |= html >= TARGET_BYTES or (n <= 10_000 and median > TARGET_SECONDS)
    return 1 if over else 0


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB"


if __name__ == "__main__":
    sys.exit(main())
