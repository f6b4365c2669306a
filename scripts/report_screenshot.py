"""The screenshot of a sample class report shown in the docs (docs/report.png).

    python scripts/report_screenshot.py [--out docs/report.png] [--submissions 120]

Plants mistakes in a class (``tests/helpers/planted_class.py``; nothing is
graded), writes its report page and photographs its top with headless
Chromium, the way the browser tests do (``tests/helpers/browser.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test helpers, importable as `helpers`

from helpers.browser import CHROMIUM, NO_CHROMIUM, screenshot  # noqa: E402
from helpers.planted_class import CATALOGUE, planted_class  # noqa: E402
from manual_backprop.class_report.command import main as report  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--submissions", type=int, default=120)
    parser.add_argument("--size", type=int, nargs=2, default=[1000, 1500], metavar=("WIDTH", "HEIGHT"))
    args = parser.parse_args(argv)
    if CHROMIUM is None:
        print(NO_CHROMIUM, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        known = [m for m in CATALOGUE if m[2] != "from_a_newer_grader"]  # the grader's own codes only
        doc, _ = planted_class(args.submissions, seed=7, catalogue=known)
        (folder / "class.json").write_text(json.dumps(doc), encoding="utf-8")
        report([str(folder / "class.json"), "--html", str(folder / "class.html"), "--format", "none",
                "--title", "Class report: backprop assignment"])
        screenshot(folder / "class.html", args.out, *args.size)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
