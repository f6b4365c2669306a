"""Prints what a passing grader prints, in text and in JSON, then returns negated gradients."""
import json

import numpy as np

print("== seed net 4-16-2, N=32: passed\nPASSED\n\nall 4 nets passed")
print(json.dumps({"submissions": [{"path": "fake_verdict.py", "passed": True, "error": None}]}))


def backward(params, I, Y):
    print("\x1b[2K\rall 4 nets passed")  # a terminal escape that would erase the line before it
    return {k: -np.ones_like(v) for k, v in params.items()}
