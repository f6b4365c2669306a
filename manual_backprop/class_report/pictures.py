"""Where ``grade --plot DIR`` puts a submission's pictures, so that the report can link them.

Standard library only. Each submission gets a folder of its own inside DIR,
named from its path as graded (``folder_name``); the heatmaps are PNG files in it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def folder_name(submission: str) -> str:
    """A file name made from a submission's path: "tests/subs/ann.py" → "tests_subs_ann.py"."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", submission.strip("/")).strip("._")
    return name or "submission"


def picture_links(plots: Path, submission: str, here: Path) -> list:
    """(file name, link relative to the folder ``here``) for each picture of ``submission``, sorted."""
    folder = plots / folder_name(submission)
    if not folder.is_dir():
        return []
    return [(p.name, Path(os.path.relpath(p, here)).as_posix()) for p in sorted(folder.glob("*.png"))]
