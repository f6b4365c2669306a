"""Running the grader as a course does: the command in a fresh interpreter, and the pytest plugin's entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests" / "submissions"
PLUGIN = "torch_ref.pytest_plugin"


def grade(*args, prelude: str = ""):
    """Run the grader in a fresh interpreter (``prelude`` first, e.g. to hide torch)."""
    code = f"{prelude}import sys; from torch_ref.grade import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


def plugin_installed() -> bool:
    """True where the package's pytest11 entry point is installed (else a test loads the plugin with -p)."""
    return any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
