"""Graded only with ``--user``: tries to write the grader's output, its installed source, another
submission and a file beside them, and to read the autograder's config (all found from the
grader's command lines in /proc), printing what each attempt did; it writes nothing where it
is allowed to (an opened file is closed unchanged). Then returns the right gradients, or
W_O's transposed when ``TRANSPOSE`` is set: its verdict must come from its gradients alone."""
import json
import os

import numpy as np

TRANSPOSE = False


def _argvs():
    """The command lines of this process's ancestors, nearest first."""
    pid, found = os.getpid(), []
    for _ in range(20):
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found.append(f.read().decode(errors="replace").split("\0"))
        except (OSError, ValueError, IndexError):
            break
    return found


def _try(what, path, flags):
    try:
        os.close(os.open(path, flags, 0o644))
        print(f"{what}: opened")
    except OSError as err:
        print(f"{what}: {type(err).__name__}")


argvs = _argvs()
root = argvs[0][5]  # the supervisor's: python -I -u -c BOOT ROOT CONFIG
output = next(a[a.index("--output") + 1] for a in argvs if "--output" in a)
folder = os.path.dirname(output)
_try("output", output, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
_try("grader source", os.path.join(root, "manual_backprop", "oracle", "isolation.py"), os.O_WRONLY | os.O_APPEND)
_try("other submission", os.path.join(folder, "other.py"), os.O_WRONLY | os.O_APPEND)
_try("new file", os.path.join(folder, "planted.py"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
_try("config", os.path.join(folder, "config.json"), os.O_RDONLY)
print("as user", os.getuid(), json.dumps(sorted(os.getgroups())))


def backward(params, I, Y):
    H_hat = 1 / (1 + np.exp(-(params["W_H"] @ I + params["b_H"])))
    dO = params["W_O"] @ H_hat + params["b_O"] - Y
    dH = (params["W_O"].T @ dO) * H_hat * (1 - H_hat)
    dW_O = dO @ H_hat.T
    return {"W_H": dH @ I.T, "b_H": dH.sum(axis=1, keepdims=True),
            "W_O": dW_O.T if TRANSPOSE else dW_O, "b_O": dO.sum(axis=1, keepdims=True)}
